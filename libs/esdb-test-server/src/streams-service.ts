import { randomUUID } from 'node:crypto';
import {
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { AllStreamPosition, WrongExpectedVersion } from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import type { IStreamsServer } from '@eventstore/db-client/generated/streams_grpc_pb';
import {
  AppendReq,
  AppendResp,
  BatchAppendReq,
  BatchAppendResp,
  DeleteReq,
  DeleteResp,
  ReadReq,
  ReadResp,
  TombstoneReq,
  TombstoneResp,
} from '@eventstore/db-client/generated/streams_pb';
import { filterFromOptions, type EventFilter } from './event-filter';
import type { FaultInjector } from './faults';
import type { AppendOutcome, ExpectedState, InMemoryLog, ProposedEvent, StoredEvent } from './in-memory-log';
import {
  describeExpected,
  Empty,
  GoogleEmpty,
  parseUint64,
  readEventMessage,
  streamIdentifierFromName,
  streamName,
  uuidToString,
} from './wire';

/** Calls the server has answered, by kind: lets tests prove which protocol path a client took. */
export interface CallCounts {
  read: number;
  subscriptions: number;
  append: number;
  batchAppendCalls: number;
  batchAppendRequests: number;
}

export interface StreamsServiceSettings {
  /** Servers before 23.10 never send `caught_up`; turn it off to imitate them. */
  readonly sendCaughtUp: boolean;
}

type ProposedMessage = AppendReq.ProposedMessage | BatchAppendReq.ProposedMessage;

class InvalidRequest extends Error {
  constructor(
    message: string,
    readonly exception?: string,
  ) {
    super(message);
  }
}

function invalid(error: unknown): Partial<ServiceError> {
  const details = error instanceof Error ? error.message : String(error);
  return { code: error instanceof InvalidRequest ? status.INVALID_ARGUMENT : status.INTERNAL, details };
}

function proposedEvent(message: ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  const contentType = metadata.get('content-type');
  if (!type || !contentType) {
    throw new InvalidRequest(
      'proposed event needs type and content-type',
      'missing-required-metadata-property',
    );
  }
  return {
    id: uuidToString(message.getId()),
    type,
    contentType,
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

/** Implements `event_store.client.streams.Streams` over an in-memory log. */
export class StreamsService {
  /** Cancels every open subscription (used when the server stops). */
  private readonly openCalls = new Set<() => void>();
  readonly counts: CallCounts = {
    read: 0,
    subscriptions: 0,
    append: 0,
    batchAppendCalls: 0,
    batchAppendRequests: 0,
  };

  constructor(
    private readonly log: InMemoryLog,
    private readonly settings: StreamsServiceSettings,
    private readonly faults: FaultInjector,
  ) {}

  dropAll(): void {
    for (const drop of [...this.openCalls]) drop();
  }

  implementation(): IStreamsServer {
    return {
      read: (call) => this.read(call),
      append: (call, callback) => this.append(call, callback),
      batchAppend: (call) => this.batchAppend(call),
      delete: (_call: ServerUnaryCall<DeleteReq, DeleteResp>, callback: sendUnaryData<DeleteResp>) =>
        callback({ code: status.UNIMPLEMENTED, details: 'the test server does not support Delete' }),
      tombstone: (
        _call: ServerUnaryCall<TombstoneReq, TombstoneResp>,
        callback: sendUnaryData<TombstoneResp>,
      ) =>
        callback({ code: status.UNIMPLEMENTED, details: 'the test server does not support Tombstone' }),
    };
  }

  // ---- Read ---------------------------------------------------------------------------------------------------

  private read(call: ServerWritableStream<ReadReq, ReadResp>): void {
    const fault = this.faults.take('read');
    if (fault) {
      call.emit('error', fault);
      return;
    }
    try {
      const options = call.request.getOptions();
      if (!options) throw new InvalidRequest('read without options');
      if (options.hasSubscription()) {
        this.counts.subscriptions += 1;
        this.subscribe(call, options);
      } else {
        this.counts.read += 1;
        this.readOnce(call, options);
      }
    } catch (error) {
      call.emit('error', invalid(error));
    }
  }

  private readOnce(call: ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options): void {
    const structured = options.getUuidOption()?.hasStructured() ?? false;
    const count = parseUint64(options.getCount());
    const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
    let events: Iterator<StoredEvent>;
    if (options.hasStream()) {
      const streamOptions = options.getStream()!;
      const stream = this.log.stream(streamName(streamOptions.getStreamIdentifier()));
      if (!stream) {
        const notFound = new ReadResp.StreamNotFound().setStreamIdentifier(
          streamOptions.getStreamIdentifier(),
        );
        call.write(new ReadResp().setStreamNotFound(notFound));
        call.end();
        return;
      }
      const length = stream.events.length;
      const from = streamOptions.hasStart()
        ? 0
        : streamOptions.hasEnd()
          ? backwards
            ? length - 1
            : length
          : parseUint64(streamOptions.getRevision());
      events = backwards
        ? rangeBackwards(stream.events, Math.min(from, length - 1), count, null)
        : rangeForwards(stream.events, from, Math.min(length, from + count), count, null);
    } else if (options.hasAll()) {
      const all = options.getAll()!;
      const filter = filterFromOptions(options);
      const length = this.log.all.length;
      if (backwards) {
        const from = all.hasStart()
          ? -1
          : all.hasEnd()
            ? length - 1
            : this.log.indexAtOrAfter(parseUint64(all.getPosition()!.getCommitPosition())) - 1;
        events = rangeBackwards(this.log.all, from, count, filter);
      } else {
        const from = all.hasStart()
          ? 0
          : all.hasEnd()
            ? length
            : this.log.indexAtOrAfter(parseUint64(all.getPosition()!.getCommitPosition()));
        events = rangeForwards(this.log.all, from, length, count, filter);
      }
    } else {
      throw new InvalidRequest('read of neither a stream nor $all');
    }
    const step = (): void => {
      while (!call.cancelled) {
        const next = events.next();
        if (next.done) {
          call.end();
          return;
        }
        if (!call.write(readEventMessage(next.value, structured))) {
          call.once('drain', step);
          return;
        }
      }
    };
    step();
  }

  private subscribe(call: ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options): void {
    const structured = options.getUuidOption()?.hasStructured() ?? false;
    const filter: EventFilter | null = options.hasAll() ? filterFromOptions(options) : null;
    let nextEvent: () => StoredEvent | undefined;
    if (options.hasStream()) {
      const streamOptions = options.getStream()!;
      const name = streamName(streamOptions.getStreamIdentifier());
      const existing = this.log.stream(name);
      let cursor = streamOptions.hasStart()
        ? 0
        : streamOptions.hasEnd()
          ? (existing?.events.length ?? 0)
          : parseUint64(streamOptions.getRevision()) + 1;
      nextEvent = () => {
        const event = this.log.stream(name)?.events[cursor];
        if (event) cursor += 1;
        return event;
      };
    } else if (options.hasAll()) {
      const all = options.getAll()!;
      let cursor = all.hasStart()
        ? 0
        : all.hasEnd()
          ? this.log.all.length
          : this.log.indexAfter(parseUint64(all.getPosition()!.getCommitPosition()));
      nextEvent = () => {
        const event = this.log.all[cursor];
        if (event) cursor += 1;
        return event;
      };
    } else {
      throw new InvalidRequest('subscription to neither a stream nor $all');
    }

    let caughtUp = false;
    let waitingForDrain = false;
    let scanned = 0;
    let lastScanned: StoredEvent | undefined;
    let closed = false;

    const send = (message: ReadResp): boolean => {
      if (call.write(message)) return true;
      waitingForDrain = true;
      call.once('drain', () => {
        waitingForDrain = false;
        pump();
      });
      return false;
    };
    const checkpoint = (event: StoredEvent): ReadResp =>
      new ReadResp().setCheckpoint(
        new ReadResp.Checkpoint()
          .setCommitPosition(String(event.position))
          .setPreparePosition(String(event.position)),
      );
    const pump = (): void => {
      if (closed || waitingForDrain || call.cancelled) return;
      for (;;) {
        const event = nextEvent();
        if (!event) {
          if (caughtUp) return;
          caughtUp = true;
          if (filter && lastScanned && scanned > 0) {
            scanned = 0;
            if (!send(checkpoint(lastScanned))) return;
          }
          if (this.settings.sendCaughtUp) send(new ReadResp().setCaughtUp(new ReadResp.CaughtUp()));
          return;
        }
        lastScanned = event;
        if (filter && !filter.matches(event)) {
          scanned += 1;
          if (scanned >= filter.checkpointEvery) {
            scanned = 0;
            if (!send(checkpoint(event))) return;
          }
          continue;
        }
        if (!send(readEventMessage(event, structured))) return;
      }
    };

    const stopListening = this.log.onAppend(pump);
    const close = (): void => {
      if (closed) return;
      closed = true;
      stopListening();
      this.openCalls.delete(drop);
    };
    const drop = (): void => {
      close();
      call.destroy(new Error('server stopped'));
    };
    this.openCalls.add(drop);
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);

    const confirmation = new ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID());
    if (send(new ReadResp().setConfirmation(confirmation))) pump();
  }

  // ---- Append -------------------------------------------------------------------------------------------------

  private append(
    call: ServerReadableStream<AppendReq, AppendResp>,
    callback: sendUnaryData<AppendResp>,
  ): void {
    this.counts.append += 1;
    const fault = this.faults.take('append');
    let options: AppendReq.Options | undefined;
    const events: ProposedEvent[] = [];
    let failure: unknown;
    call.on('data', (request: AppendReq) => {
      if (failure !== undefined) return;
      try {
        if (request.hasOptions()) options = request.getOptions();
        else if (request.hasProposedMessage()) events.push(proposedEvent(request.getProposedMessage()!));
      } catch (error) {
        failure = error;
      }
    });
    call.on('error', () => undefined);
    call.on('end', () => {
      if (fault) return callback(fault);
      if (failure !== undefined) return callback(invalid(failure));
      if (!options) return callback({ code: status.INVALID_ARGUMENT, details: 'append without options' });
      try {
        const stream = streamName(options.getStreamIdentifier());
        const outcome = this.log.append(stream, expectedOfAppend(options), events);
        callback(null, appendResponse(outcome));
      } catch (error) {
        callback(invalid(error));
      }
    });
  }

  private batchAppend(call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void {
    this.counts.batchAppendCalls += 1;
    const fault = this.faults.take('batchAppend');
    if (fault) {
      call.emit('error', fault);
      return;
    }
    const pending = new Map<
      string,
      { options: BatchAppendReq.Options | undefined; events: ProposedEvent[] }
    >();
    const drop = (): void => {
      this.openCalls.delete(drop);
      call.destroy(new Error('server stopped'));
    };
    this.openCalls.add(drop);
    const forget = (): void => {
      this.openCalls.delete(drop);
    };
    call.on('cancelled', forget);
    call.on('close', forget);
    call.on('error', forget);
    call.on('end', () => {
      forget();
      call.end();
    });
    call.on('data', (request: BatchAppendReq) => {
      const correlation = request.getCorrelationId();
      const key = uuidToString(correlation);
      let batch = pending.get(key);
      if (!batch) {
        batch = { options: undefined, events: [] };
        pending.set(key, batch);
      }
      if (request.hasOptions()) batch.options = request.getOptions();
      const response = new BatchAppendResp().setCorrelationId(correlation);
      try {
        for (const message of request.getProposedMessagesList()) batch.events.push(proposedEvent(message));
        if (!request.getIsFinal()) return;
        pending.delete(key);
        this.counts.batchAppendRequests += 1;
        const options = batch.options;
        if (!options) throw new InvalidRequest('batch append without options');
        const name = streamName(options.getStreamIdentifier());
        const expected = expectedOfBatch(options);
        response.setStreamIdentifier(streamIdentifierFromName(name));
        echoExpected(response, expected);
        const outcome = this.log.append(name, expected, batch.events);
        if (outcome.kind === 'success') response.setSuccess(batchSuccess(outcome));
        else response.setError(wrongExpectedVersionStatus(outcome, name));
      } catch (error) {
        pending.delete(key);
        const message = error instanceof Error ? error.message : String(error);
        response.setError(new Status().setCode(Code.INVALID_ARGUMENT).setMessage(message));
      }
      call.write(response);
    });
  }
}

// ---- helpers ----------------------------------------------------------------------------------------------------

function* rangeForwards(
  events: readonly StoredEvent[],
  from: number,
  end: number,
  count: number,
  filter: EventFilter | null,
): Generator<StoredEvent> {
  let emitted = 0;
  for (let i = Math.max(0, from); i < end && emitted < count; i++) {
    const event = events[i];
    if (filter && !filter.matches(event)) continue;
    emitted += 1;
    yield event;
  }
}

function* rangeBackwards(
  events: readonly StoredEvent[],
  from: number,
  count: number,
  filter: EventFilter | null,
): Generator<StoredEvent> {
  let emitted = 0;
  for (let i = Math.min(from, events.length - 1); i >= 0 && emitted < count; i--) {
    const event = events[i];
    if (filter && !filter.matches(event)) continue;
    emitted += 1;
    yield event;
  }
}

function expectedOfAppend(options: AppendReq.Options): ExpectedState {
  switch (options.getExpectedStreamRevisionCase()) {
    case AppendReq.Options.ExpectedStreamRevisionCase.REVISION:
      return { kind: 'revision', revision: parseUint64(options.getRevision()) };
    case AppendReq.Options.ExpectedStreamRevisionCase.NO_STREAM:
      return { kind: 'no_stream' };
    case AppendReq.Options.ExpectedStreamRevisionCase.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case AppendReq.Options.ExpectedStreamRevisionCase.ANY:
      return { kind: 'any' };
    default:
      throw new InvalidRequest('append without an expected stream revision');
  }
}

function expectedOfBatch(options: BatchAppendReq.Options): ExpectedState {
  switch (options.getExpectedStreamPositionCase()) {
    case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_POSITION:
      return { kind: 'revision', revision: parseUint64(options.getStreamPosition()) };
    case BatchAppendReq.Options.ExpectedStreamPositionCase.NO_STREAM:
      return { kind: 'no_stream' };
    case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case BatchAppendReq.Options.ExpectedStreamPositionCase.ANY:
      return { kind: 'any' };
    default:
      throw new InvalidRequest('batch append without an expected stream position');
  }
}

function echoExpected(response: BatchAppendResp, expected: ExpectedState): void {
  switch (expected.kind) {
    case 'revision':
      response.setStreamPosition(String(expected.revision));
      return;
    case 'no_stream':
      response.setNoStream(new GoogleEmpty());
      return;
    case 'stream_exists':
      response.setStreamExists(new GoogleEmpty());
      return;
    case 'any':
      response.setAny(new GoogleEmpty());
      return;
  }
}

function appendResponse(outcome: AppendOutcome): AppendResp {
  if (outcome.kind === 'success') {
    const success = new AppendResp.Success();
    if (outcome.currentRevision < 0) success.setNoStream(new Empty());
    else success.setCurrentRevision(String(outcome.currentRevision));
    if (outcome.position === null) success.setNoPosition(new Empty());
    else {
      const position = String(outcome.position);
      success.setPosition(new AppendResp.Position().setCommitPosition(position).setPreparePosition(position));
    }
    return new AppendResp().setSuccess(success);
  }
  const wrong = new AppendResp.WrongExpectedVersion();
  if (outcome.currentRevision < 0) wrong.setCurrentNoStream(new Empty());
  else wrong.setCurrentRevision(String(outcome.currentRevision));
  switch (outcome.expected.kind) {
    case 'revision':
      wrong.setExpectedRevision(String(outcome.expected.revision));
      break;
    case 'no_stream':
      wrong.setExpectedNoStream(new Empty());
      break;
    case 'stream_exists':
      wrong.setExpectedStreamExists(new Empty());
      break;
    case 'any':
      wrong.setExpectedAny(new Empty());
      break;
  }
  return new AppendResp().setWrongExpectedVersion(wrong);
}

function batchSuccess(outcome: Extract<AppendOutcome, { kind: 'success' }>): BatchAppendResp.Success {
  const success = new BatchAppendResp.Success();
  if (outcome.currentRevision < 0) success.setNoStream(new GoogleEmpty());
  else success.setCurrentRevision(String(outcome.currentRevision));
  if (outcome.position === null) success.setNoPosition(new GoogleEmpty());
  else {
    const position = String(outcome.position);
    success.setPosition(new AllStreamPosition().setCommitPosition(position).setPreparePosition(position));
  }
  return success;
}

function wrongExpectedVersionStatus(
  outcome: Extract<AppendOutcome, { kind: 'wrong_expected_version' }>,
  stream: string,
): Status {
  const details = new WrongExpectedVersion();
  if (outcome.currentRevision < 0) details.setCurrentNoStream(new GoogleEmpty());
  else details.setCurrentStreamRevision(String(outcome.currentRevision));
  switch (outcome.expected.kind) {
    case 'revision':
      details.setExpectedStreamPosition(String(outcome.expected.revision));
      break;
    case 'no_stream':
      details.setExpectedNoStream(new GoogleEmpty());
      break;
    case 'stream_exists':
      details.setExpectedStreamExists(new GoogleEmpty());
      break;
    case 'any':
      details.setExpectedAny(new GoogleEmpty());
      break;
  }
  const packed = new Any();
  packed.pack(details.serializeBinary(), 'event_store.client.WrongExpectedVersion');
  const current = outcome.currentRevision < 0 ? 'no stream' : String(outcome.currentRevision);
  return new Status()
    .setCode(Code.FAILED_PRECONDITION)
    .setMessage(
      `Append failed due to WrongExpectedVersion. Stream: ${stream}, Expected version: ` +
        `${describeExpected(outcome.expected)}, Actual version: ${current}`,
    )
    .setDetails(packed);
}

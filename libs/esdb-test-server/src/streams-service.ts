import { randomUUID } from 'node:crypto';
import {
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type UntypedServiceImplementation,
  type handleBidiStreamingCall,
  type handleClientStreamingCall,
} from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import {
  AllStreamPosition,
  MaximumAppendSizeExceeded,
  StreamDeleted,
  Timeout,
  WrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import {
  StreamsService as StreamsServiceDefinition,
  type IStreamsServer,
} from '@eventstore/db-client/generated/streams_grpc_pb';
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
import {
  InvalidRequest,
  decodeAppendRequest,
  decodeBatchAppendRequest,
  type DecodedAppendRequest,
  type DecodedBatchAppendRequest,
} from './append-request-decoding';
import { encodedBatchAppendSuccess } from './append-response-encoding';
import { filterFromOptions, type EventFilter } from './event-filter';
import type { FaultInjector } from './faults';
import type {
  AppendOutcome,
  DeleteOutcome,
  ExpectedState,
  InMemoryLog,
  ProposedEvent,
  StoredEvent,
  StreamState,
} from './in-memory-log';
import {
  describeExpected,
  Empty,
  GoogleEmpty,
  parseUint64,
  readEventMessage,
  streamIdentifierFromName,
  streamName,
  uuidMessage,
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
  /** Bytes one append may hold (`--max-append-size`), counted as EventStoreDB does: see `sizeOnDisk`. */
  readonly maxAppendSize: number;
}

/** EventStoreDB's measure of an event against the maximum append size: data, metadata and the type in UTF-16. */
export function sizeOnDisk(event: ProposedEvent): number {
  return event.data.length + event.metadata.length + event.type.length * 2;
}

/** The error EventStoreDB raises out of band: a gRPC status whose trailers name the exception. */
function rpcError(code: status, details: string, trailers: Record<string, string>): Partial<ServiceError> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details, metadata };
}

function streamDeletedError(stream: string): Partial<ServiceError> {
  return rpcError(status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': stream,
  });
}

function maxAppendSizeError(maxAppendSize: number): Partial<ServiceError> {
  return rpcError(status.INVALID_ARGUMENT, `Maximum Append Size of ${maxAppendSize} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(maxAppendSize),
  });
}

function wrongExpectedVersionError(
  stream: string,
  expected: ExpectedState,
  current: number,
): Partial<ServiceError> {
  const trailers: Record<string, string> = {
    exception: 'wrong-expected-version',
    'stream-name': stream,
    'expected-version':
      expected.kind === 'revision' ? String(expected.revision) : expectedVersionNumber(expected),
  };
  if (current >= 0) trailers['actual-version'] = String(current);
  return rpcError(
    status.FAILED_PRECONDITION,
    `Operation failed due to WrongExpectedVersion. Stream: ${stream}, Expected version: ${describeExpected(expected)}, Actual version: ${current < 0 ? 'no stream' : current}`,
    trailers,
  );
}

/** ExpectedVersion constants of EventStoreDB: Any -2, NoStream -1, StreamExists -4. */
function expectedVersionNumber(expected: ExpectedState): string {
  switch (expected.kind) {
    case 'any':
      return '-2';
    case 'no_stream':
      return '-1';
    case 'stream_exists':
      return '-4';
    case 'revision':
      return String(expected.revision);
  }
}

function packedStatus(
  code: Code,
  message: string,
  typeName: string,
  details: { serializeBinary(): Uint8Array },
): Status {
  const packed = new Any();
  packed.pack(details.serializeBinary(), typeName);
  return new Status().setCode(code).setMessage(message).setDetails(packed);
}

function invalid(error: unknown): Partial<ServiceError> {
  const details = error instanceof Error ? error.message : String(error);
  return { code: error instanceof InvalidRequest ? status.INVALID_ARGUMENT : status.INTERNAL, details };
}

/**
 * The Streams service definition with the append requests decoded by append-request-decoding.ts instead of
 * the generated classes; everything else is the generated definition.
 */
export const streamsServiceDefinition = {
  ...StreamsServiceDefinition,
  append: { ...StreamsServiceDefinition.append, requestDeserialize: decodeAppendRequest },
  batchAppend: { ...StreamsServiceDefinition.batchAppend, requestDeserialize: decodeBatchAppendRequest },
};

/** The handlers, typed by the requests they receive once decoded. */
export interface StreamsHandlers extends UntypedServiceImplementation {
  read: IStreamsServer['read'];
  append: handleClientStreamingCall<DecodedAppendRequest, AppendResp>;
  batchAppend: handleBidiStreamingCall<DecodedBatchAppendRequest, BatchAppendResp>;
  delete: IStreamsServer['delete'];
  tombstone: IStreamsServer['tombstone'];
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

  /** Ends every open call the way a stopping node does: UNAVAILABLE, so clients reconnect instead of giving up. */
  dropAll(): void {
    for (const drop of [...this.openCalls]) drop();
  }

  // ---- Delete and tombstone -------------------------------------------------------------------------------------

  private deleteStream(
    call: ServerUnaryCall<DeleteReq, DeleteResp>,
    callback: sendUnaryData<DeleteResp>,
  ): void {
    const options = call.request.getOptions();
    if (!options) return callback({ code: status.INVALID_ARGUMENT, details: 'delete without options' });
    const stream = streamName(options.getStreamIdentifier());
    let expected: ExpectedState;
    switch (options.getExpectedStreamRevisionCase()) {
      case DeleteReq.Options.ExpectedStreamRevisionCase.REVISION:
        expected = { kind: 'revision', revision: parseUint64(options.getRevision()) };
        break;
      case DeleteReq.Options.ExpectedStreamRevisionCase.NO_STREAM:
        expected = { kind: 'no_stream' };
        break;
      case DeleteReq.Options.ExpectedStreamRevisionCase.STREAM_EXISTS:
        expected = { kind: 'stream_exists' };
        break;
      default:
        expected = { kind: 'any' };
    }
    const outcome = this.log.delete(stream, expected, false);
    const error = deleteError(outcome, stream);
    if (error) return callback(error);
    const response = new DeleteResp();
    if (outcome.kind === 'success')
      response.setPosition(deletePosition(DeleteResp.Position, outcome.position));
    callback(null, response);
  }

  private tombstoneStream(
    call: ServerUnaryCall<TombstoneReq, TombstoneResp>,
    callback: sendUnaryData<TombstoneResp>,
  ): void {
    const options = call.request.getOptions();
    if (!options) return callback({ code: status.INVALID_ARGUMENT, details: 'tombstone without options' });
    const stream = streamName(options.getStreamIdentifier());
    let expected: ExpectedState;
    switch (options.getExpectedStreamRevisionCase()) {
      case TombstoneReq.Options.ExpectedStreamRevisionCase.REVISION:
        expected = { kind: 'revision', revision: parseUint64(options.getRevision()) };
        break;
      case TombstoneReq.Options.ExpectedStreamRevisionCase.NO_STREAM:
        expected = { kind: 'no_stream' };
        break;
      case TombstoneReq.Options.ExpectedStreamRevisionCase.STREAM_EXISTS:
        expected = { kind: 'stream_exists' };
        break;
      default:
        expected = { kind: 'any' };
    }
    const outcome = this.log.delete(stream, expected, true);
    const error = deleteError(outcome, stream);
    if (error) return callback(error);
    const response = new TombstoneResp();
    if (outcome.kind === 'success')
      response.setPosition(deletePosition(TombstoneResp.Position, outcome.position));
    callback(null, response);
  }

  implementation(): StreamsHandlers {
    return {
      read: (call) => this.read(call),
      append: (call, callback) => this.append(call, callback),
      batchAppend: (call) => this.batchAppend(call),
      delete: (call: ServerUnaryCall<DeleteReq, DeleteResp>, callback: sendUnaryData<DeleteResp>) =>
        this.deleteStream(call, callback),
      tombstone: (
        call: ServerUnaryCall<TombstoneReq, TombstoneResp>,
        callback: sendUnaryData<TombstoneResp>,
      ) => this.tombstoneStream(call, callback),
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
    const resolveLinks = options.getResolveLinks();
    const count = parseUint64(options.getCount());
    const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
    let events: Iterator<StoredEvent>;
    if (options.hasStream()) {
      const streamOptions = options.getStream()!;
      const name = streamName(streamOptions.getStreamIdentifier());
      const stream = this.log.stream(name);
      if (stream?.tombstone) {
        call.emit('error', streamDeletedError(name));
        return;
      }
      const window = stream ? this.log.visibleWindow(stream) : null;
      if (!stream || !window || stream.events.length === 0) {
        const notFound = new ReadResp.StreamNotFound().setStreamIdentifier(
          streamOptions.getStreamIdentifier(),
        );
        call.write(new ReadResp().setStreamNotFound(notFound));
        call.end();
        return;
      }
      const length = stream.events.length;
      const requested = streamOptions.hasStart()
        ? 0
        : streamOptions.hasEnd()
          ? backwards
            ? length - 1
            : length
          : parseUint64(streamOptions.getRevision());
      const visible = visibleIn(window);
      events = backwards
        ? rangeBackwards(stream.events, Math.min(requested, length - 1), count, visible, window.from)
        : rangeForwards(stream.events, Math.max(requested, window.from), length, count, visible);
    } else if (options.hasAll()) {
      const all = options.getAll()!;
      const filter = filterFromOptions(options);
      const matches = filter ? (event: StoredEvent) => filter.matches(event) : null;
      const length = this.log.all.length;
      if (backwards) {
        const from = all.hasStart()
          ? -1
          : all.hasEnd()
            ? length - 1
            : this.log.indexAtOrAfter(parseUint64(all.getPosition()!.getCommitPosition())) - 1;
        events = rangeBackwards(this.log.all, from, count, matches, 0);
      } else {
        const from = all.hasStart()
          ? 0
          : all.hasEnd()
            ? length
            : this.log.indexAtOrAfter(parseUint64(all.getPosition()!.getCommitPosition()));
        events = rangeForwards(this.log.all, from, length, count, matches);
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
        if (!call.write(this.readResponse(next.value, structured, resolveLinks))) {
          call.once('drain', step);
          return;
        }
      }
    };
    step();
  }

  /** With resolveLinkTos a `$>` link becomes the event it points at, carried with the link. */
  private readResponse(event: StoredEvent, structured: boolean, resolveLinks: boolean): ReadResp {
    if (resolveLinks && event.type === '$>') {
      const target = this.log.resolveLink(event);
      if (target) return readEventMessage(target, structured, event);
    }
    return readEventMessage(event, structured);
  }

  private subscribe(call: ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options): void {
    const structured = options.getUuidOption()?.hasStructured() ?? false;
    const resolveLinks = options.getResolveLinks();
    const filter: EventFilter | null = options.hasAll() ? filterFromOptions(options) : null;
    let nextEvent: () => StoredEvent | undefined;
    let deletedStream: (() => string | null) | null = null;
    if (options.hasStream()) {
      const streamOptions = options.getStream()!;
      const name = streamName(streamOptions.getStreamIdentifier());
      const existing = this.log.stream(name);
      if (existing?.tombstone) {
        call.emit('error', streamDeletedError(name));
        return;
      }
      let cursor = streamOptions.hasStart()
        ? 0
        : streamOptions.hasEnd()
          ? (existing?.events.length ?? 0)
          : parseUint64(streamOptions.getRevision()) + 1;
      nextEvent = () => {
        const stream = this.log.stream(name);
        if (!stream) return undefined;
        for (;;) {
          const event = stream.events[cursor];
          if (!event) return undefined;
          cursor += 1;
          if (isVisible(this.log, stream, event)) return event;
        }
      };
      deletedStream = () => (this.log.stream(name)?.tombstone ? name : null);
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

    // A refused write still queued its message; only the first one while full waits for 'drain'. Each wait
    // used to add its own listener (a checkpoint right after a refused event added a second), and every stale
    // one reset the flag and pumped into a full buffer again: listeners piled up past Node's warning limit.
    const send = (message: ReadResp): boolean => {
      if (call.write(message)) return true;
      if (!waitingForDrain) {
        waitingForDrain = true;
        call.once('drain', () => {
          waitingForDrain = false;
          pump();
        });
      }
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
          const deleted = deletedStream?.();
          if (deleted) {
            close();
            call.emit('error', streamDeletedError(deleted));
            return;
          }
          if (caughtUp) return;
          caughtUp = true;
          if (this.settings.sendCaughtUp) send(new ReadResp().setCaughtUp(new ReadResp.CaughtUp()));
          return;
        }
        lastScanned = event;
        // EventStoreDB counts every event it scans, matching or not, towards the next checkpoint.
        const matched = !filter || filter.matches(event);
        if (matched && !send(this.readResponse(event, structured, resolveLinks))) {
          countScanned();
          return;
        }
        if (!countScanned()) return;
      }
    };
    /** False when a checkpoint could not be written at once (the pump resumes on drain). */
    const countScanned = (): boolean => {
      if (!filter || !lastScanned) return true;
      scanned += 1;
      if (scanned < filter.checkpointEvery) return true;
      scanned = 0;
      return send(checkpoint(lastScanned));
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
      call.emit('error', shuttingDown());
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
    call: ServerReadableStream<DecodedAppendRequest, AppendResp>,
    callback: sendUnaryData<AppendResp>,
  ): void {
    this.counts.append += 1;
    const fault = this.faults.take('append');
    let options: AppendReq.Options | undefined;
    const events: ProposedEvent[] = [];
    let size = 0;
    let failure: unknown;
    let answered = false;
    const answer = (error: Partial<ServiceError> | null, response?: AppendResp): void => {
      if (answered) return;
      answered = true;
      this.openCalls.delete(drop);
      callback(error, response);
    };
    const drop = (): void => answer(shuttingDown());
    this.openCalls.add(drop);
    call.on('data', (request: DecodedAppendRequest) => {
      if (failure !== undefined || answered) return;
      try {
        if (request.options) options = request.options;
        else if (request.proposed) {
          const event = request.proposed();
          size += sizeOnDisk(event);
          // Refused as soon as the limit is passed, before the rest of the request arrives.
          if (size > this.settings.maxAppendSize)
            return answer(maxAppendSizeError(this.settings.maxAppendSize));
          events.push(event);
        }
      } catch (error) {
        failure = error;
      }
    });
    call.on('error', () => this.openCalls.delete(drop));
    call.on('cancelled', () => this.openCalls.delete(drop));
    call.on('end', () => {
      if (answered) return;
      if (fault) return answer(fault);
      if (failure !== undefined) return answer(invalid(failure));
      if (!options) return answer({ code: status.INVALID_ARGUMENT, details: 'append without options' });
      try {
        const stream = streamName(options.getStreamIdentifier());
        const outcome = this.log.append(stream, expectedOfAppend(options), events);
        if (outcome.kind === 'stream_deleted') return answer(streamDeletedError(stream));
        answer(null, appendResponse(outcome));
      } catch (error) {
        answer(invalid(error));
      }
    });
  }

  private batchAppend(call: ServerDuplexStream<DecodedBatchAppendRequest, BatchAppendResp>): void {
    this.counts.batchAppendCalls += 1;
    const fault = this.faults.take('batchAppend');
    if (fault) {
      call.emit('error', fault);
      return;
    }
    interface PendingBatch {
      readonly options: BatchAppendReq.Options;
      readonly stream: string;
      readonly events: ProposedEvent[];
      size: number;
      timer: NodeJS.Timeout | null;
    }
    const pending = new Map<string, PendingBatch>();
    const forgetBatch = (key: string): PendingBatch | undefined => {
      const batch = pending.get(key);
      if (!batch) return undefined;
      pending.delete(key);
      if (batch.timer) clearTimeout(batch.timer);
      return batch;
    };
    const writable = (): boolean => !call.destroyed && !call.writableEnded;
    const respond = (
      request: DecodedBatchAppendRequest,
      stream: string,
      fill: (response: BatchAppendResp) => void,
    ) => {
      if (!writable()) return;
      const response = new BatchAppendResp()
        .setCorrelationId(uuidMessage(request.correlationId, request.correlationStructured))
        .setStreamIdentifier(streamIdentifierFromName(stream));
      fill(response);
      call.write(response);
    };
    const closeCall = (): void => {
      this.openCalls.delete(drop);
      for (const key of [...pending.keys()]) forgetBatch(key);
    };
    const drop = (): void => {
      closeCall();
      call.emit('error', shuttingDown());
    };
    this.openCalls.add(drop);
    call.on('cancelled', closeCall);
    call.on('close', closeCall);
    call.on('error', closeCall);
    call.on('end', () => {
      closeCall();
      call.end();
    });
    call.on('data', (request: DecodedBatchAppendRequest) => {
      const key = request.correlationId;
      try {
        if (request.options && !pending.has(key)) {
          const options = request.options;
          const batch: PendingBatch = {
            options,
            stream: streamName(options.getStreamIdentifier()),
            events: [],
            size: 0,
            timer: null,
          };
          pending.set(key, batch);
          // The deadline covers receiving the whole batch; once it is written there is nothing left to time out.
          const deadline = options.getDeadline();
          const remaining = deadline ? deadline.toDate().getTime() - Date.now() : Infinity;
          if (remaining <= 0) {
            forgetBatch(key);
            respond(request, batch.stream, (response) => response.setError(timeoutStatus()));
            return;
          }
          if (Number.isFinite(remaining)) {
            batch.timer = setTimeout(() => {
              if (forgetBatch(key)) respond(request, batch.stream, (r) => r.setError(timeoutStatus()));
            }, remaining);
            batch.timer.unref();
          }
        }
        // Parts of a batch already refused (size, deadline) or never opened are ignored, as EventStoreDB does.
        const batch = pending.get(key);
        if (!batch) return;
        // Refused at the event that crosses the limit; the rest of the request is never decoded.
        for (const event of request.proposedMessages()) {
          batch.size += sizeOnDisk(event);
          if (batch.size > this.settings.maxAppendSize) {
            forgetBatch(key);
            respond(request, batch.stream, (response) =>
              response.setError(maxAppendSizeStatus(this.settings.maxAppendSize)),
            );
            return;
          }
          batch.events.push(event);
        }
        if (!request.isFinal) return;
        forgetBatch(key);
        this.counts.batchAppendRequests += 1;
        const expected = expectedOfBatch(batch.options);
        const outcome = this.log.append(batch.stream, expected, batch.events);
        if (outcome.kind === 'success' && !request.correlationStructured) {
          if (writable()) {
            call.write(
              encodedBatchAppendSuccess(
                key,
                Buffer.from(batch.stream, 'utf8'),
                expected,
                outcome.currentRevision,
                outcome.position,
              ),
            );
          }
          return;
        }
        respond(request, batch.stream, (response) => {
          echoExpected(response, expected);
          if (outcome.kind === 'success') response.setSuccess(batchSuccess(outcome));
          else if (outcome.kind === 'stream_deleted') response.setError(streamDeletedStatus(batch.stream));
          else response.setError(wrongExpectedVersionStatus(outcome, batch.stream));
        });
      } catch (error) {
        const batch = forgetBatch(key);
        const message = error instanceof Error ? error.message : String(error);
        respond(request, batch?.stream ?? '', (response) =>
          response.setError(new Status().setCode(Code.INVALID_ARGUMENT).setMessage(message)),
        );
      }
    });
  }
}

function shuttingDown(): Partial<ServiceError> {
  return { code: status.UNAVAILABLE, details: 'Server is shutting down.' };
}

function timeoutStatus(): Status {
  return packedStatus(Code.DEADLINE_EXCEEDED, 'Timeout', 'event_store.client.Timeout', new Timeout());
}

function maxAppendSizeStatus(maxAppendSize: number): Status {
  return packedStatus(
    Code.INVALID_ARGUMENT,
    `Maximum Append Size of ${maxAppendSize} Exceeded.`,
    'event_store.client.MaximumAppendSizeExceeded',
    new MaximumAppendSizeExceeded().setMaxappendsize(maxAppendSize),
  );
}

function streamDeletedStatus(stream: string): Status {
  return packedStatus(
    Code.FAILED_PRECONDITION,
    `Event stream '${stream}' is deleted.`,
    'event_store.client.StreamDeleted',
    new StreamDeleted().setStreamIdentifier(streamIdentifierFromName(stream)),
  );
}

function deleteError(outcome: DeleteOutcome, stream: string): Partial<ServiceError> | null {
  if (outcome.kind === 'stream_deleted') return streamDeletedError(stream);
  if (outcome.kind === 'wrong_expected_version')
    return wrongExpectedVersionError(stream, outcome.expected, outcome.currentRevision);
  return null;
}

function deletePosition<P extends { setCommitPosition(v: string): P; setPreparePosition(v: string): P }>(
  Position: new () => P,
  position: number,
): P {
  return new Position().setCommitPosition(String(position)).setPreparePosition(String(position));
}

/** Whether a stream read or subscription may hand out the event now (metadata applied). */
function isVisible(log: InMemoryLog, stream: StreamState, event: StoredEvent): boolean {
  const window = log.visibleWindow(stream);
  return window !== null && event.revision >= window.from && event.createdMs >= window.notBeforeMs;
}

function visibleIn(window: { readonly from: number; readonly notBeforeMs: number }) {
  return window.from === 0 && window.notBeforeMs === 0
    ? null
    : (event: StoredEvent) => event.revision >= window.from && event.createdMs >= window.notBeforeMs;
}

// ---- helpers ----------------------------------------------------------------------------------------------------

function* rangeForwards(
  events: readonly StoredEvent[],
  from: number,
  end: number,
  count: number,
  matches: ((event: StoredEvent) => boolean) | null,
): Generator<StoredEvent> {
  let emitted = 0;
  for (let i = Math.max(0, from); i < end && emitted < count; i++) {
    const event = events[i];
    if (matches && !matches(event)) continue;
    emitted += 1;
    yield event;
  }
}

function* rangeBackwards(
  events: readonly StoredEvent[],
  from: number,
  count: number,
  matches: ((event: StoredEvent) => boolean) | null,
  lowest: number,
): Generator<StoredEvent> {
  let emitted = 0;
  for (let i = Math.min(from, events.length - 1); i >= lowest && emitted < count; i--) {
    const event = events[i];
    if (matches && !matches(event)) continue;
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

function appendResponse(outcome: Exclude<AppendOutcome, { kind: 'stream_deleted' }>): AppendResp {
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

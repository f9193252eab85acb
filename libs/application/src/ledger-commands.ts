import {
  ContendedChangeError,
  decide,
  formatTime,
  IdempotencyKeyReusedError,
  Streams,
  viewShardFor,
  type MediaAccessDenied,
  type MediaViewed,
} from '@ledger/domain';
import {
  ConcurrencyError,
  positionToToken,
  type EventStore,
  type JsonObject,
  type LogPosition,
  type NewEvent,
  type RecordedEvent,
} from '@ledger/event-store';
import { IDEMPOTENCY_METADATA_KEY, type IdempotencyRecord, type LiveProjection } from '@ledger/projections';
import { idempotentEventIds, timeOrderedIds, type Clock, type IdGenerator } from './clock';
import { concurrencyRetry, deviceStreamFold, handleCommand, type RetryPolicy } from './command-handler';
import { mediaViewed, toDeviceCommand, type OwnershipChange } from './device-change';
import type {
  AuthorizeInput,
  DecommissionDeviceInput,
  GrantAccessInput,
  RegisterDeviceInput,
  RevokeAccessInput,
  TransferOwnershipInput,
  ViewInput,
} from './inputs';
import {
  buildViewBatch,
  parseTimeField,
  viewEvent,
  type SerializedViewBatch,
} from './view-batch';
import type { WriteContext, WriteResult } from './write-result';

export interface LedgerCommandsOptions {
  readonly consistencyWaitMs: number;
  /** Optimistic-concurrency retries before a contended device change is reported as 409. */
  readonly maxConflictRetries?: number;
}

interface Outcome {
  readonly status: number;
  readonly body: JsonObject;
  readonly position: LogPosition;
}

/** The id of a write's event by its place in the write. */
type EventIds = (index: number) => string;

/** How many of a write's events are looked for when deciding whether another instance already stored it. */
const MAX_EVENTS_PER_CHANGE = 8;

/**
 * The write side: every command handler of the contract. Ownership changes are decided against the device's
 * own stream and appended with its revision as the expectation; views are appended without reading anything.
 */
export class LedgerCommands {
  private readonly inFlightKeys = new Map<string, Promise<unknown>>();
  private readonly retry: RetryPolicy;

  constructor(
    private readonly store: EventStore,
    private readonly projection: LiveProjection,
    private readonly clock: Clock,
    private readonly options: LedgerCommandsOptions,
    private readonly ids: IdGenerator = timeOrderedIds,
  ) {
    this.retry = concurrencyRetry(options.maxConflictRetries ?? 8);
  }

  registerDevice(input: RegisterDeviceInput, context: WriteContext = {}): Promise<WriteResult> {
    const change: OwnershipChange = {
      op: 'register',
      ...this.changeBase(input),
      ownerId: input.ownerId,
      ...(input.model === undefined ? {} : { model: input.model }),
    };
    return this.ownershipChange(change, context, { deviceId: input.deviceId });
  }

  grantAccess(input: GrantAccessInput, context: WriteContext = {}): Promise<WriteResult> {
    // Parsed before anything is read, so a malformed expiry is a 400 whatever the device's state.
    const expiresAt =
      input.expiresAt === undefined ? undefined : parseTimeField('expiresAt', input.expiresAt);
    const change: OwnershipChange = {
      op: 'grant',
      ...this.changeBase(input),
      userId: input.userId,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    };
    return this.ownershipChange(change, context);
  }

  revokeAccess(input: RevokeAccessInput, context: WriteContext = {}): Promise<WriteResult> {
    return this.ownershipChange({ op: 'revoke', ...this.changeBase(input), userId: input.userId }, context);
  }

  transferOwnership(input: TransferOwnershipInput, context: WriteContext = {}): Promise<WriteResult> {
    const change: OwnershipChange = {
      op: 'transfer',
      ...this.changeBase(input),
      newOwnerId: input.newOwnerId,
      keepViewers: input.keepViewers === true,
    };
    return this.ownershipChange(change, context);
  }

  decommissionDevice(input: DecommissionDeviceInput, context: WriteContext = {}): Promise<WriteResult> {
    return this.ownershipChange({ op: 'decommission', ...this.changeBase(input) }, context);
  }

  /** An ownership change answers 201 with its token (and `body`), at most once per Idempotency-Key. */
  private ownershipChange(
    change: OwnershipChange,
    context: WriteContext,
    body: JsonObject = {},
  ): Promise<WriteResult> {
    return this.idempotent(context, async (record, ids) => {
      const position = await this.changeDevice(change, record(201, body), ids);
      return { status: 201, body, position };
    });
  }

  /** One view: an observation, recorded whether or not it was authorized. */
  recordView(input: ViewInput, context: WriteContext = {}): Promise<WriteResult> {
    return this.idempotent(context, async (record, ids) => {
      const now = this.clock.now();
      const event = viewEvent(input, now, '');
      const eventId = ids(0);
      const result = await this.store.append({
        stream: Streams.views(viewShardFor(input.deviceId)),
        expectedRevision: 'any',
        events: [{ eventId, type: event.type, data: event.data, metadata: record(201, { eventId }) }],
      });
      return { status: 201, body: { eventId }, position: result.position };
    });
  }

  /** All views of a batch are validated before any is appended, and appended in one atomic append. */
  recordViews(inputs: readonly ViewInput[], context: WriteContext = {}): Promise<WriteResult> {
    return this.idempotent(context, async (record, ids) => {
      const { stream, events } = buildViewBatch(inputs, this.clock.now(), ids);
      const last = events.length - 1;
      events[last] = { ...events[last], metadata: record(201, { count: inputs.length }) };
      return this.appendViews(stream, events);
    });
  }

  /**
   * A batch of views `buildViewBatch` built and serialized elsewhere (off the event loop), from this ledger's receipt time
   * (`receiptTime`) and ids made by `timeOrderedIds`, the generator of writes without an Idempotency-Key:
   * appended as `recordViews` appends a batch sent without one. With a key the ids derive from the key and the
   * remembered answer comes first, so such a batch goes through `recordViews`.
   */
  appendViewBatch(batch: SerializedViewBatch): Promise<WriteResult> {
    // Not through `idempotent` (nothing to remember without a key). The events come serialized: the loop
    // neither parses nor re-serializes a thousand events, and what its commit holds is a few strings.
    const count = batch.events.eventIds.length;
    return this.store
      .appendSerialized({ stream: batch.stream, expectedRevision: 'any', events: batch.events })
      .then((result) => ({ status: 201, body: { count, token: positionToToken(result.position) } }));
  }

  /** The receipt time a write received now is recorded at (the clock the handlers read). */
  receiptTime(): number {
    return this.clock.now();
  }

  private async appendViews(stream: string, events: readonly NewEvent[]): Promise<Outcome> {
    const count = events.length;
    const result = await this.store.append({ stream, expectedRevision: 'any', events });
    return { status: 201, body: { count }, position: result.position };
  }

  /**
   * The verification layer: decides at the head of the log (everything acknowledged before the call is
   * applied first) and records the outcome — a view or a denied access — in the same call.
   */
  authorize(input: AuthorizeInput, context: WriteContext = {}): Promise<WriteResult> {
    return this.idempotent(context, async (record, ids) => {
      const head = await this.projection.catchUpToHead(this.options.consistencyWaitMs);
      const now = this.clock.now();
      const judgement = this.projection.table.check(input.viewerId, input.deviceId, now);
      const decisionToken = positionToToken(head);
      const eventId = ids(0);
      // The decision's instant is both times of the record: its text is made once.
      const at = formatTime(now);
      const status = judgement.allowed ? 200 : 403;
      const body: JsonObject = judgement.allowed
        ? { allowed: true, role: judgement.role, eventId }
        : { allowed: false, reason: judgement.reason, eventId };
      const event: MediaViewed | MediaAccessDenied = judgement.allowed
        ? mediaViewed({ ...input, decisionToken, occurredAt: now }, at, judgement.role)
        : {
            type: 'MediaAccessDenied',
            data: {
              viewerId: input.viewerId,
              deviceId: input.deviceId,
              mediaId: input.mediaId,
              mediaType: input.mediaType,
              action: input.action,
              ...(input.servedBy === undefined ? {} : { servedBy: input.servedBy }),
              decisionToken,
              occurredAt: at,
              recordedAt: at,
              reason: judgement.reason,
            },
          };
      const result = await this.store.append({
        stream: Streams.views(viewShardFor(input.deviceId)),
        expectedRevision: 'any',
        events: [{ eventId, type: event.type, data: event.data, metadata: record(status, body) }],
      });
      return { status, body, position: result.position };
    });
  }

  /** The fields every ownership change has, validated: business time parsed (absent: receipt time). */
  private changeBase(input: { deviceId: string; actor: string; reason?: string; occurredAt?: string }) {
    return {
      deviceId: input.deviceId,
      actor: input.actor,
      ...(input.reason === undefined ? {} : { reason: input.reason }),
      ...(input.occurredAt === undefined
        ? {}
        : { occurredAt: parseTimeField('occurredAt', input.occurredAt) }),
    };
  }

  /**
   * The device's stream read, the change decided against it, the events appended with the stream's revision
   * as the expectation; a concurrent change makes the append fail, and the change is decided again on the
   * new history (the retry policy), until it gives up with ContendedChangeError.
   */
  private async changeDevice(
    change: OwnershipChange,
    metadata: JsonObject | undefined,
    ids: EventIds,
  ): Promise<LogPosition> {
    const stream = Streams.device(change.deviceId);
    try {
      const handled = await handleCommand(
        this.store,
        stream,
        deviceStreamFold,
        (loaded): { events: NewEvent[]; result: 'stored' | null } => {
          // The same write, sent to another instance too, may already be stored: deciding again on a history
          // that holds it would answer differently, so its position is the answer.
          for (let index = 0; index < MAX_EVENTS_PER_CHANGE; index++) {
            if (loaded.eventIds.has(ids(index))) return { events: [], result: 'stored' };
          }
          // Receipt time is read after the stream, on every attempt: a change the caller did not date is then
          // dated at or after every change it is decided against, so losing a race never makes it "out of order".
          const decided = decide(toDeviceCommand(change, this.clock.now()), loaded.state);
          const events: NewEvent[] = decided.map((event, index) => ({
            eventId: ids(index),
            type: event.type,
            data: event.data as unknown as JsonObject,
            ...(index === decided.length - 1 && metadata ? { metadata } : {}),
          }));
          return { events, result: null };
        },
        this.retry,
      );
      if (handled.result === 'stored') {
        const position = storedWrite(await this.store.readStream(stream), ids);
        if (position) return position;
      }
      if (handled.appended === null) throw new Error('a device change decided no event');
      return handled.appended.position;
    } catch (error) {
      if (error instanceof ConcurrencyError) throw new ContendedChangeError(change.deviceId);
      throw error;
    }
  }

  /**
   * Runs a write at most once per Idempotency-Key. The key travels in the metadata of the write's own last
   * event, so it is durable exactly when the write is; the index that answers repeats is a projection.
   */
  private async idempotent(
    context: WriteContext,
    run: (
      record: (status: number, body: JsonObject) => JsonObject | undefined,
      ids: EventIds,
    ) => Promise<Outcome>,
  ): Promise<WriteResult> {
    const key = context.idempotency;
    if (!key) {
      const outcome = await run(
        () => undefined,
        () => this.ids.eventId(),
      );
      return { status: outcome.status, body: { ...outcome.body, token: positionToToken(outcome.position) } };
    }
    // Serialize requests with the same key inside this process, so the second one sees the first's result.
    const previous = this.inFlightKeys.get(key.scope) ?? Promise.resolve();
    const mine = previous
      .catch(() => undefined)
      .then(async (): Promise<WriteResult> => {
        await this.projection.catchUpToHead(this.options.consistencyWaitMs);
        const remembered = this.projection.idempotency.get(key.scope);
        if (remembered) {
          if (remembered.requestHash !== key.requestHash) throw new IdempotencyKeyReusedError();
          return {
            status: remembered.status,
            body: { ...remembered.body, token: positionToToken(remembered.position) },
          };
        }
        const outcome = await run(
          (status, body) => {
            const record: IdempotencyRecord = {
              scope: key.scope,
              requestHash: key.requestHash,
              status,
              body,
            };
            const metadata: JsonObject = {
              [IDEMPOTENCY_METADATA_KEY]: record as unknown as JsonObject[string],
            };
            return metadata;
          },
          idempotentEventIds(key.scope, key.requestHash),
        );
        await this.projection
          .waitFor(outcome.position, this.options.consistencyWaitMs)
          .catch(() => undefined);
        // Another instance may have stored this write first (the store kept one copy, by event id): its
        // recorded answer is the answer, so both callers get the same one.
        const stored = this.projection.idempotency.get(key.scope);
        if (stored && stored.requestHash === key.requestHash) {
          return { status: stored.status, body: { ...stored.body, token: positionToToken(stored.position) } };
        }
        return {
          status: outcome.status,
          body: { ...outcome.body, token: positionToToken(outcome.position) },
        };
      });
    this.inFlightKeys.set(key.scope, mine);
    try {
      return await mine;
    } finally {
      if (this.inFlightKeys.get(key.scope) === mine) this.inFlightKeys.delete(key.scope);
    }
  }
}

/** The position of a write already in the device's history, found by its first events' ids. */
function storedWrite(stored: readonly RecordedEvent[], ids: EventIds): LogPosition | null {
  const wanted = new Set(Array.from({ length: MAX_EVENTS_PER_CHANGE }, (_, index) => ids(index)));
  let found: RecordedEvent | null = null;
  for (const event of stored) if (wanted.has(event.eventId)) found = event;
  return found ? found.position : null;
}

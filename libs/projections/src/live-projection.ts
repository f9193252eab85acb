import { Subject, type Subscription } from 'rxjs';
import {
  comparePositions,
  positionToToken,
  readAllPages,
  START,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from '@ledger/event-store';
import { IdempotencyIndex, type IdempotencyIndexOptions } from './idempotency.index';
import { Streams } from '@ledger/domain';
import {
  captureProjection,
  loadSnapshot,
  removeSnapshot,
  snapshotAnchorOf,
  writeCapturedSnapshot,
  type SnapshotAnchor,
  type SnapshotHeader,
} from './projection-snapshot';
import { RelationshipTable, type RelationshipChange } from './relationship-table.projection';

export class ConsistencyTimeoutError extends Error {
  constructor(
    readonly token: string,
    readonly waitedMs: number,
  ) {
    super(`the projection did not reach token ${token} within ${waitedMs} ms`);
    this.name = 'ConsistencyTimeoutError';
  }
}

export interface ProjectionLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LiveProjectionOptions {
  /** Where snapshots live; null disables them (tests, read-only tools). */
  readonly snapshotDir: string | null;
  /**
   * Write a snapshot after this many applied events that change what it holds (device events, events
   * carrying an Idempotency-Key), or after {@link SNAPSHOT_EVERY_EVENTS_OF_ANY_KIND} times as many events of
   * any kind, and on stop.
   */
  readonly snapshotEveryEvents?: number;
  /**
   * Authenticates snapshots (HMAC) when the operator supplies a secret from outside the data dir. Without it,
   * a snapshot's relationships are checked against the log's device events before anything is served.
   */
  readonly snapshotKey?: Buffer | null;
  readonly logger?: ProjectionLogger;
  /** How long Idempotency-Keys are remembered, and the clock that says when a key's window is over. */
  readonly idempotency?: IdempotencyIndexOptions;
}

export interface PositionedChange extends RelationshipChange {
  readonly position: LogPosition;
  readonly token: string;
}

interface Waiter {
  readonly target: LogPosition;
  resolve(): void;
}

export const DEFAULT_SNAPSHOT_EVERY_EVENTS = 250_000;

/**
 * Views change nothing a snapshot holds, but a restart replays every event after the snapshot's position:
 * this many times `snapshotEveryEvents` events of any kind also trigger one, which bounds that replay for a
 * views-only stream (10M events at the default) while keeping snapshots of a view-heavy service rare.
 */
export const SNAPSHOT_EVERY_EVENTS_OF_ANY_KIND = 40;

const silent: ProjectionLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Keeps the relationship table and the idempotency index up to date by subscription to the log, with a
 * checkpoint (the snapshot) so a restart does not replay from zero.
 */
export class LiveProjection {
  readonly table = new RelationshipTable();
  readonly idempotency: IdempotencyIndex;
  readonly changes = new Subject<PositionedChange>();
  private current: LogPosition = START;
  /** `current` as a token, and the position it was formatted from. */
  private tokenText = positionToToken(START);
  private tokenPosition: LogPosition = START;
  private caughtUp = false;
  private waiters: Waiter[] = [];
  private subscription: Subscription | null = null;
  private stopped = false;
  /** Events applied since the last capture, and those of them that changed what a snapshot holds. */
  private eventsSinceCapture = 0;
  private rewriteAfterCatchUp = false;
  private changesSinceCapture = 0;
  /** The snapshot being written: at most one at a time. */
  private inFlight: Promise<void> | null = null;
  private lastEventAt = 0;
  /** The last event applied since start; until there is one, the loaded snapshot's anchor stands for it. */
  private lastApplied: RecordedEvent | null = null;
  private loadedAnchor: SnapshotAnchor | null = null;
  private liveApplied = 0;
  private resubscribeTimer: NodeJS.Timeout | null = null;
  /** The head read that callers of `catchUpToHead` arriving in this turn of the event loop will share. */
  private sharedHeadRead: Promise<LogPosition> | null = null;
  private readonly logger: ProjectionLogger;

  constructor(
    private readonly store: EventStore,
    private readonly options: LiveProjectionOptions,
  ) {
    this.logger = options.logger ?? silent;
    this.idempotency = new IdempotencyIndex(options.idempotency);
  }

  get position(): LogPosition {
    return this.current;
  }

  get token(): string {
    // Read by every check: formatted once per position the projection reaches, not once per check.
    if (this.tokenPosition !== this.current) {
      this.tokenText = positionToToken(this.current);
      this.tokenPosition = this.current;
    }
    return this.tokenText;
  }

  get isCaughtUp(): boolean {
    return this.caughtUp;
  }

  /** Events applied since the projection first caught up (for lag metrics). */
  get appliedEvents(): number {
    return this.liveApplied;
  }

  /** Wall-clock ms when the last event was applied (0 before any). */
  get lastAppliedAt(): number {
    return this.lastEventAt;
  }

  /** Loads the snapshot if it is sound, then follows the log; resolves once caught up with the head. */
  async start(): Promise<void> {
    const dir = this.options.snapshotDir;
    if (dir) {
      const key = this.options.snapshotKey ?? null;
      const result = loadSnapshot(dir, this.store.name, this.table, this.idempotency, key);
      if (result.kind === 'loaded') {
        const head = await this.store.headPosition();
        if (comparePositions(result.position, head) > 0) {
          // The log is behind the snapshot: it was replaced or restored from an older backup.
          this.logger.warn(
            `projection snapshot at ${positionToToken(result.position)} is ahead of the log head ${positionToToken(head)}; discarding it`,
          );
          removeSnapshot(dir);
          this.resetModels();
        } else if (!(await this.isInLog(result.header))) {
          this.logger.warn(
            `projection snapshot at ${positionToToken(result.position)} was built from another log (its last event is not in this one); discarding it`,
          );
          removeSnapshot(dir);
          this.resetModels();
        } else if (!result.authenticated && !(await this.matchesDeviceHistory(result.position))) {
          this.logger.warn(
            `projection snapshot at ${positionToToken(result.position)} discarded (forged or edited: its relationships are not the log's device events); rebuilding from the log`,
          );
          removeSnapshot(dir);
          this.resetModels();
        } else {
          this.current = result.position;
          this.loadedAnchor = result.header.anchor ?? null;
          // A keyed service vouches for nothing it did not write: rewritten under the key once caught up, so
          // the next start loads it as is instead of re-reading every device event.
          this.rewriteAfterCatchUp = key !== null && !result.authenticated;
          this.logger.log(
            `projection snapshot loaded at ${positionToToken(result.position)} (${result.header.devices} devices, ${result.authenticated ? 'authenticated by its key' : 'verified against the device events'})`,
          );
        }
      } else if (result.kind === 'discarded') {
        this.logger.warn(`projection snapshot discarded (${result.why}); rebuilding from the log`);
        removeSnapshot(dir);
        this.resetModels();
      }
    }
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      this.follow(
        () => {
          if (!settled) {
            settled = true;
            this.snapshotAfterStart();
            resolve();
          }
        },
        (error) => {
          if (!settled) {
            settled = true;
            reject(error);
          }
        },
      );
    });
  }

  /**
   * The trigger in `applyEvent` only fires on live events, so a start that replayed a long stretch of log
   * (from zero, or far past the snapshot) would otherwise keep it unsaved until the next change or `stop()`:
   * after a kill -9 the next start would replay it all again. Written in the background, as any snapshot.
   */
  private snapshotAfterStart(): void {
    if (this.snapshotDue() || this.rewriteAfterCatchUp) void this.snapshot();
    this.rewriteAfterCatchUp = false;
  }

  /** Is the snapshot's last event still in the log, at the same place? */
  private async isInLog(header: SnapshotHeader): Promise<boolean> {
    const anchor = header.anchor;
    if (!anchor) return true;
    const [event] = await this.store.readStream(anchor.stream, {
      fromRevision: BigInt(anchor.revision),
      maxCount: 1,
    });
    return (
      event !== undefined &&
      event.revision === BigInt(anchor.revision) &&
      event.eventId === anchor.eventId &&
      event.position.commit === BigInt(anchor.commit) &&
      event.position.prepare === BigInt(anchor.prepare)
    );
  }

  /**
   * Checks an unauthenticated snapshot: the relationship table rebuilt from the log's device streams up to the
   * snapshot's position must equal the loaded one. Views, the bulk of the log, are not read, so this stays a
   * fraction of a rebuild; the log's table replaces the loaded one, so nothing the file says is served.
   */
  private async matchesDeviceHistory(upTo: LogPosition): Promise<boolean> {
    const fromLog = new RelationshipTable();
    for await (const page of readAllPages(this.store, {
      upTo,
      filter: { streamPrefixes: [Streams.devicePrefix] },
      pageSize: 5000,
    })) {
      for (const event of page) fromLog.apply(event);
    }
    if (fromLog.digest() !== this.table.digest()) return false;
    (this as { table: RelationshipTable }).table = fromLog;
    return true;
  }

  private resetModels(): void {
    // Fresh read models: the snapshot may have been partly applied before it was found wanting.
    (this as { table: RelationshipTable }).table = new RelationshipTable();
    (this as { idempotency: IdempotencyIndex }).idempotency = new IdempotencyIndex(this.options.idempotency);
  }

  private follow(onCaughtUp: () => void, onFirstError: (error: unknown) => void): void {
    if (this.stopped) return;
    this.subscription = this.store.subscribeToAll({ from: this.current }).subscribe({
      next: (message) => {
        if (message.kind === 'event') this.applyEvent(message.event);
        else {
          if (comparePositions(message.position, this.current) > 0) this.advance(message.position);
          this.caughtUp = true;
          onCaughtUp();
        }
      },
      error: (error: unknown) => {
        this.caughtUp = false;
        this.subscription = null;
        if (this.stopped) return;
        this.logger.error(`projection subscription failed: ${(error as Error).message}; resubscribing`);
        onFirstError(error);
        this.resubscribeTimer = setTimeout(
          () =>
            this.follow(
              () => undefined,
              () => undefined,
            ),
          500,
        );
      },
    });
  }

  private applyEvent(event: RecordedEvent): void {
    if (comparePositions(event.position, this.current) <= 0) return;
    const change = this.table.apply(event);
    if (event.metadata.idempotency !== undefined) this.idempotency.apply(event);
    this.lastApplied = event;
    this.lastEventAt = Date.now();
    if (this.caughtUp) this.liveApplied++;
    this.advance(event.position);
    if (change && this.changes.observed) {
      this.changes.next({ ...change, position: event.position, token: positionToToken(event.position) });
    }
    this.eventsSinceCapture++;
    if (change !== null || event.metadata.idempotency !== undefined) this.changesSinceCapture++;
    if (this.caughtUp && this.inFlight === null && this.snapshotDue()) void this.snapshot();
  }

  /** Enough has changed since the last capture (or enough events of any kind) for a new snapshot. */
  private snapshotDue(): boolean {
    const every = this.options.snapshotEveryEvents ?? DEFAULT_SNAPSHOT_EVERY_EVENTS;
    return (
      this.changesSinceCapture >= every ||
      this.eventsSinceCapture >= every * SNAPSHOT_EVERY_EVENTS_OF_ANY_KIND
    );
  }

  private advance(position: LogPosition): void {
    this.current = position;
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (comparePositions(position, waiter.target) >= 0) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  /** Resolves once everything up to `target` is applied; rejects after `timeoutMs`. */
  waitFor(target: LogPosition, timeoutMs: number): Promise<void> {
    if (comparePositions(this.current, target) >= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new ConsistencyTimeoutError(positionToToken(target), timeoutMs));
      }, timeoutMs);
      const waiter: Waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits until everything acknowledged before this call is applied. */
  async catchUpToHead(timeoutMs: number): Promise<LogPosition> {
    const head = await this.headAfterThisTurn();
    await this.waitFor(head, timeoutMs);
    return head;
  }

  /**
   * The log's head, read once for every caller of this turn of the event loop: the read happens after all of
   * them were called, so it covers everything acknowledged before any of them. Under load, authorizations
   * arrive many to a turn, and each read of the head is a query (SQLite: a read transaction over the WAL).
   */
  private headAfterThisTurn(): Promise<LogPosition> {
    this.sharedHeadRead ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      // Cleared before the read: a caller arriving once it has begun may not share it.
      this.sharedHeadRead = null;
      return this.store.headPosition();
    });
    return this.sharedHeadRead;
  }

  /** The snapshot being written, if one is: resolves once it is on disk (or its failure is logged). */
  get snapshotInFlight(): Promise<void> | null {
    return this.inFlight;
  }

  digest(): string {
    return this.table.digest();
  }

  /**
   * Captures the projection now (pointer copies) and writes it in the background, the event loop serving
   * between blocks; resolves once written. Events applied meanwhile are not in it. While one is being written
   * this returns that one. A failed write is logged and leaves the previous snapshot in place.
   */
  snapshot(): Promise<void> {
    const dir = this.options.snapshotDir;
    if (!dir) return Promise.resolve();
    if (this.inFlight !== null) return this.inFlight;
    const anchor = this.lastApplied ? snapshotAnchorOf(this.lastApplied) : this.loadedAnchor;
    const capture = captureProjection(this.current, this.table, this.idempotency, anchor);
    this.eventsSinceCapture = 0;
    this.changesSinceCapture = 0;
    const written = writeCapturedSnapshot(dir, this.store.name, capture, this.options.snapshotKey ?? null)
      .then(
        () => undefined,
        (error: unknown) => {
          this.logger.error(
            `projection snapshot at ${positionToToken(capture.position)} not written: ${(error as Error).message}`,
          );
        },
      )
      .finally(() => {
        capture.release();
        this.inFlight = null;
      });
    this.inFlight = written;
    return written;
  }

  /** Stops following the log; waits for the snapshot being written, then writes one of the final state. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resubscribeTimer) clearTimeout(this.resubscribeTimer);
    this.subscription?.unsubscribe();
    this.subscription = null;
    if (this.inFlight !== null) await this.inFlight;
    if (this.caughtUp && this.eventsSinceCapture > 0) await this.snapshot();
    this.changes.complete();
  }
}

export interface RebuildResult {
  readonly digest: string;
  readonly token: string;
  readonly events: number;
  readonly devices: number;
  readonly relationships: number;
}

/** Builds the table from position zero by paged reads, as `ledger rebuild` does. */
export async function rebuildFromLog(
  store: EventStore,
  options: {
    onProgress?: (events: number) => void;
    pageSize?: number;
    upTo?: LogPosition;
    idempotency?: IdempotencyIndexOptions;
  } = {},
): Promise<
  RebuildResult & {
    table: RelationshipTable;
    idempotency: IdempotencyIndex;
    position: LogPosition;
    /** Pass to `writeSnapshot`, so the snapshot can later prove it belongs to this log. */
    anchor: SnapshotAnchor | null;
  }
> {
  const table = new RelationshipTable();
  const idempotency = new IdempotencyIndex(options.idempotency);
  const head = options.upTo ?? (await store.headPosition());
  let position: LogPosition = START;
  let events = 0;
  let last: RecordedEvent | null = null;
  for await (const page of readAllPages(store, { upTo: head, pageSize: options.pageSize })) {
    for (const event of page) {
      table.apply(event);
      if (event.metadata.idempotency !== undefined) idempotency.apply(event);
      position = event.position;
      last = event;
      events++;
    }
    options.onProgress?.(events);
  }
  // Nothing after the last event can change the table, so the head's token names the same state.
  if (comparePositions(head, position) > 0) position = head;
  return {
    digest: table.digest(),
    token: positionToToken(position),
    events,
    devices: table.deviceCount,
    relationships: table.relationshipCount,
    table,
    idempotency,
    position,
    anchor: last ? snapshotAnchorOf(last) : null,
  };
}

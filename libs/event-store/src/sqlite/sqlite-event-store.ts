import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Observable, type Subscriber } from 'rxjs';
import {
  ConcurrencyError,
  EventStoreError,
  InvalidAppendError,
  StoreClosedError,
  StoreUnavailableError,
} from '../errors';
import type {
  AppendRequest,
  AppendResult,
  EventStore,
  ExpectedRevision,
  JsonObject,
  ReadAllDataOptions,
  ReadAllDataPage,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  StoredEvent,
  StoredSubscriptionMessage,
  SubscribeOptions,
  SubscriptionMessage,
} from '../event-store.port';
import { START, type LogPosition } from '../position';
import { AllReader, compileFilter, EVENT_COLUMNS, type CompiledFilter, type EventRow } from './all-reader';
import { EMPTY_METADATA, prepareAppend, type AppendSink, type PendingAppend } from './append-request';
import { ForeignCommitWatcher } from './foreign-commit-watcher';
import { NO_STREAM, RevisionCache } from './revision-cache';
import { DataReader } from './data-reader';
import { validateReadAllData } from '../read-all-data';
import { migrate } from './schema';

export interface SqliteEventStoreOptions {
  readonly dataDir: string;
  /** Defaults to `events.sqlite3`. */
  readonly fileName?: string;
  /**
   * Queued appends are committed on the next turn of the event loop, or at once when they hold this many
   * events, so a flood of appends cannot grow one transaction without bound.
   */
  readonly maxBatchEvents?: number;
  /** Rows a subscription reads per step while catching up; it yields to the event loop between steps. */
  readonly subscriptionPageSize?: number;
  /** Streams whose last revision is remembered between appends. */
  readonly revisionCacheSize?: number;
  /** Told about every committed group, e.g. to feed metrics on how well appends coalesce. */
  readonly onGroupCommit?: (commit: GroupCommitInfo) => void;
}

export interface GroupCommitInfo {
  /** Append requests settled by the transaction, failed ones included. */
  readonly requests: number;
  /** Events the transaction wrote. */
  readonly events: number;
}

const DEFAULT_FILE_NAME = 'events.sqlite3';
/** Stands for "after everything" in SQL bounds; positions never get near it. */
const BEYOND_END = Number.MAX_SAFE_INTEGER;
const MAX_PAGE = 1 << 24;

interface LiveSubscription {
  readonly subscriber: Subscriber<SubscriptionMessage | StoredSubscriptionMessage>;
  /** Hands events over as stored (`subscribeToAllStored`): the column text, never parsed. */
  readonly stored: boolean;
  readonly filter: CompiledFilter | null;
  /** Every matching event at or before this position has been delivered. */
  checkpoint: number;
  caughtUp: boolean;
  /** A read of the log is scheduled or under way; commits need not wake it. */
  pumping: boolean;
}

function toPosition(position: number): LogPosition {
  if (position < 0) return START;
  const value = BigInt(position);
  return { commit: value, prepare: value };
}

/** The first revision to read, clamped into SQL's integer range; -1 when nothing can match. */
function streamStart(fromRevision: bigint | undefined, backwards: boolean): number {
  if (fromRevision === undefined) return backwards ? BEYOND_END : 0;
  if (fromRevision < 0n) return backwards ? -1 : 0;
  return fromRevision > BigInt(BEYOND_END) ? BEYOND_END : Number(fromRevision);
}

function positionBound(position: LogPosition): number {
  if (position.commit < 0n) return -1;
  return position.commit >= BigInt(BEYOND_END) ? BEYOND_END : Number(position.commit);
}

function parseObject(json: string | null): JsonObject {
  return json === null ? {} : (JSON.parse(json) as JsonObject);
}

function rowToEvent(row: EventRow): RecordedEvent {
  return {
    eventId: row[1],
    stream: row[2],
    revision: BigInt(row[3]),
    type: row[4],
    data: JSON.parse(row[5]) as JsonObject,
    metadata: parseObject(row[6]),
    position: toPosition(row[0]),
  };
}

/** The row's own text: every row the store wrote holds `JSON.stringify` output, so this is what readAll's parse re-serializes to. */
function rowToStoredEvent(row: EventRow): StoredEvent {
  return {
    eventId: row[1],
    stream: row[2],
    revision: BigInt(row[3]),
    type: row[4],
    dataJson: row[5],
    metadataJson: row[6] ?? EMPTY_METADATA,
    position: toPosition(row[0]),
  };
}

function describeExpected(expected: ExpectedRevision): string {
  return typeof expected === 'bigint' ? expected.toString() : expected;
}

function describeActual(revision: number): string {
  return revision === NO_STREAM ? 'no_stream' : String(revision);
}

function satisfies(expected: ExpectedRevision, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === NO_STREAM;
    case 'stream_exists':
      return current !== NO_STREAM;
    default:
      return current !== NO_STREAM && BigInt(current) === expected;
  }
}

// Matched by code, not `instanceof Database.SqliteError`: the native addon keeps the error class of whichever
// copy of the module loaded it first, and test runners load a fresh copy per test file.
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function unavailable(error: unknown, doing: string): EventStoreError {
  if (error instanceof EventStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`${doing} failed: ${message}`, { cause: error });
}

/**
 * The embedded event store: one SQLite file in WAL mode, written through group commit.
 *
 * Concurrent appends queue up and are committed together in one transaction (one fsync) on the next turn of
 * the event loop. Expected revisions are checked against remembered stream revisions (reconciled with the
 * database at the start of every transaction, and re-read from it before a conflict is reported), and each
 * request writes its rows inside its own savepoint, so one request's conflict or failure never aborts its
 * neighbours; only a failure of the transaction itself fails the whole group. Subscribers are woken after
 * each commit and read the new rows from the database, except when a caught-up subscriber sits exactly at
 * the previous head: then the just-committed events are handed over directly, which is the same sequence a
 * read would return.
 */
export class SqliteEventStore implements EventStore {
  readonly name = 'sqlite';

  private readonly reader: AllReader;
  private readonly dataReader: DataReader;
  private readonly maxBatchEvents: number;
  private readonly pageSize: number;
  private readonly onGroupCommit: ((commit: GroupCommitInfo) => void) | undefined;

  private readonly insertEvent: Database.Statement<unknown[], unknown>;
  private readonly streamsWrittenAfter: Database.Statement<unknown[], unknown>;
  private readonly lastRevisionOf: Database.Statement<unknown[], unknown>;
  private readonly lastPosition: Database.Statement<unknown[], unknown>;
  private readonly eventById: Database.Statement<unknown[], unknown>;
  private readonly streamForwards: Database.Statement<unknown[], unknown>;
  private readonly streamBackwards: Database.Statement<unknown[], unknown>;
  private readonly commitGroup: Database.Transaction<(batch: readonly PendingAppend[]) => void>;
  /** Nested inside `commitGroup`, so it runs as a savepoint: one request's rows, all or none. */
  private readonly writeRequestRows: Database.Transaction<
    (pending: PendingAppend, current: number) => number
  >;

  /** Last committed position as this process knows it. */
  private head: number;
  /** Head at the start of the running write transaction, after noticing writes by other connections. */
  private txHeadBefore = NO_STREAM;
  /** Last position assigned inside the running write transaction. */
  private txPosition = NO_STREAM;
  private txTouched = new Set<string>();
  private readonly revisions: RevisionCache;

  private queue: PendingAppend[] = [];
  private queuedEvents = 0;
  private flushTimer: NodeJS.Immediate | undefined;
  /** True from the start of a group commit until its subscribers were told; blocks re-entrant commits. */
  private committing = false;
  private closed = false;
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly foreignCommits: ForeignCommitWatcher;

  private constructor(
    private readonly db: Database.Database,
    options: SqliteEventStoreOptions,
  ) {
    this.maxBatchEvents = Math.max(1, options.maxBatchEvents ?? 10_000);
    this.pageSize = Math.max(1, options.subscriptionPageSize ?? 2_000);
    this.onGroupCommit = options.onGroupCommit;
    this.reader = new AllReader(db);
    this.dataReader = new DataReader(db);
    this.insertEvent = db.prepare(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.streamsWrittenAfter = db.prepare('SELECT DISTINCT stream FROM events WHERE position > ?').pluck();
    this.lastRevisionOf = db.prepare('SELECT max(revision) FROM events WHERE stream = ?').pluck();
    this.lastPosition = db.prepare('SELECT max(position) FROM events').pluck();
    this.eventById = db.prepare('SELECT position, stream, revision FROM events WHERE event_id = ?').raw();
    this.streamForwards = db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?`,
      )
      .raw();
    this.streamBackwards = db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
      )
      .raw();
    this.commitGroup = db.transaction((batch: readonly PendingAppend[]) => this.applyGroup(batch));
    this.writeRequestRows = db.transaction((pending: PendingAppend, current: number) =>
      this.insertRows(pending, current),
    );
    this.head = this.readHead();
    this.revisions = new RevisionCache(Math.max(1, options.revisionCacheSize ?? 100_000), this.head);
    this.foreignCommits = new ForeignCommitWatcher(
      db,
      () => this.onForeignCommit(),
      () => !this.closed && this.subscriptions.size > 0,
    );
  }

  /** Opens (creating if needed) the store file in `dataDir`. */
  static open(options: SqliteEventStoreOptions): SqliteEventStore {
    const file = path.join(options.dataDir, options.fileName ?? DEFAULT_FILE_NAME);
    let db: Database.Database | undefined;
    try {
      fs.mkdirSync(options.dataDir, { recursive: true });
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      // FULL makes every commit fsync the WAL: an acknowledged append survives a crash or power loss.
      // Group commit is what keeps that affordable.
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = MEMORY');
      db.pragma('mmap_size = 268435456');
      db.pragma('journal_size_limit = 67108864');
      migrate(db);
      return new SqliteEventStore(db, options);
    } catch (error) {
      db?.close();
      throw unavailable(error, `opening event store ${file}`);
    }
  }

  append(request: AppendRequest): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      if (this.closed) throw new StoreClosedError();
      const sink: AppendSink = {
        settle: (_index, outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)),
      };
      this.enqueue(prepareAppend(request, sink, 0));
      this.scheduleFlush();
    });
  }

  appendMany(requests: readonly AppendRequest[]): Promise<ReadonlyArray<AppendResult | Error>> {
    return new Promise<ReadonlyArray<AppendResult | Error>>((resolve, reject) => {
      if (this.closed) throw new StoreClosedError();
      if (!Array.isArray(requests)) throw new InvalidAppendError('appendMany needs an array of requests');
      const results = new Array<AppendResult | Error>(requests.length);
      let remaining = requests.length;
      let failed = false;
      if (remaining === 0) {
        resolve(results);
        return;
      }
      const sink: AppendSink = {
        settle(index, outcome, fatal) {
          if (failed) return;
          if (fatal) {
            failed = true;
            reject(outcome);
            return;
          }
          results[index] = outcome;
          if (--remaining === 0) resolve(results);
        },
      };
      for (let i = 0; i < requests.length; i++) {
        try {
          this.enqueue(prepareAppend(requests[i], sink, i));
        } catch (error) {
          if (!(error instanceof InvalidAppendError)) throw error;
          sink.settle(i, error, false);
        }
      }
      this.scheduleFlush();
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    const backwards = options.direction === 'backwards';
    const limit = options.maxCount ?? -1;
    if (options.maxCount !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new RangeError(`maxCount must be a non-negative integer, got ${options.maxCount}`);
    }
    if (limit === 0) return [];
    const from = streamStart(options.fromRevision, backwards);
    if (from < 0) return [];
    let rows: EventRow[];
    try {
      rows = (backwards ? this.streamBackwards : this.streamForwards).all(stream, from, limit) as EventRow[];
    } catch (error) {
      throw unavailable(error, `reading stream ${stream}`);
    }
    return rows.map(rowToEvent);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.assertOpen();
    const { from, direction } = options;
    if (!Number.isInteger(options.maxCount) || options.maxCount < 1) {
      throw new RangeError(`maxCount must be a positive integer, got ${options.maxCount}`);
    }
    // Nobody can hold more rows than this in one page; the cap keeps SQL limits far from integer overflow.
    const maxCount = Math.min(options.maxCount, MAX_PAGE);
    const forwards = direction !== 'backwards';
    if (forwards && from === 'end') return { events: [], next: 'end', isEnd: true };
    const bound = from === 'end' ? BEYOND_END : positionBound(from);
    const filter = compileFilter(options.filter);
    let rows: EventRow[];
    try {
      // One row more than asked tells whether this page is the last without another query.
      rows = this.reader.read(forwards, bound, maxCount + 1, filter);
    } catch (error) {
      throw unavailable(error, 'reading $all');
    }
    const isEnd = rows.length <= maxCount;
    const count = isEnd ? rows.length : maxCount;
    const events = new Array<RecordedEvent>(count);
    for (let i = 0; i < count; i++) events[i] = rowToEvent(rows[i]);
    return { events, next: count > 0 ? events[count - 1].position : from, isEnd };
  }

  async readAllData(options: ReadAllDataOptions): Promise<ReadAllDataPage> {
    this.assertOpen();
    const maxCount = Math.min(validateReadAllData(options), MAX_PAGE);
    const after = positionBound(options.from);
    const upTo = positionBound(options.upTo);
    const filter = compileFilter(options.filter);
    if (after >= upTo) return { eventIds: [], types: [], dataJson: [], next: options.from, isEnd: true };
    let page: ReturnType<DataReader['read']>;
    try {
      page = this.dataReader.read(after, upTo, maxCount, filter);
    } catch (error) {
      throw unavailable(error, 'reading $all');
    }
    const isEnd = page.scannedTo >= upTo || page.scannedTo >= this.readHead();
    return {
      eventIds: page.eventIds,
      types: page.types,
      dataJson: page.dataJson,
      next: page.eventIds.length > 0 || !isEnd ? toPosition(page.scannedTo) : options.from,
      isEnd,
    };
  }

  subscribeToAll(options: SubscribeOptions): Observable<SubscriptionMessage> {
    return this.subscribe<SubscriptionMessage>(options, false);
  }

  subscribeToAllStored(options: SubscribeOptions): Observable<StoredSubscriptionMessage> {
    return this.subscribe<StoredSubscriptionMessage>(options, true);
  }

  private subscribe<M extends SubscriptionMessage | StoredSubscriptionMessage>(
    options: SubscribeOptions,
    stored: boolean,
  ): Observable<M> {
    return new Observable<M>((subscriber) => {
      if (this.closed) {
        subscriber.error(new StoreClosedError());
        return;
      }
      let filter: CompiledFilter | null;
      try {
        filter = compileFilter(options.filter);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      const subscription: LiveSubscription = {
        subscriber: subscriber as Subscriber<SubscriptionMessage | StoredSubscriptionMessage>,
        stored,
        filter,
        checkpoint: positionBound(options.from),
        caughtUp: false,
        pumping: false,
      };
      this.subscriptions.add(subscription);
      this.schedulePump(subscription);
      this.foreignCommits.ensureRunning();
      return () => {
        this.subscriptions.delete(subscription);
      };
    });
  }

  async headPosition(): Promise<LogPosition> {
    this.assertOpen();
    try {
      return toPosition(this.readHead());
    } catch (error) {
      throw unavailable(error, 'reading the head position');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Appends already accepted are committed, not dropped.
    if (this.queue.length > 0) this.flush();
    this.closed = true;
    this.foreignCommits.stop();
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    const subscriptions = [...this.subscriptions];
    this.subscriptions.clear();
    for (const subscription of subscriptions) subscription.subscriber.error(new StoreClosedError());
    this.db.close();
  }

  /** Another connection committed: wake the subscribers, which read the new rows from the database. */
  private onForeignCommit(): void {
    if (this.queue.length === 0 && !this.committing) {
      try {
        this.head = this.readHead();
      } catch {
        // The next transaction re-reads the head anyway.
      }
    }
    for (const subscription of this.subscriptions) this.schedulePump(subscription);
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private readHead(): number {
    return (this.lastPosition.get() as number | null) ?? NO_STREAM;
  }

  // ---- writing ---------------------------------------------------------------------------------------------

  private enqueue(pending: PendingAppend): void {
    this.queue.push(pending);
    this.queuedEvents += pending.ids.length;
  }

  private scheduleFlush(): void {
    if (this.queue.length === 0) return;
    if (this.queuedEvents >= this.maxBatchEvents && !this.committing) {
      this.flush();
    } else if (this.flushTimer === undefined) {
      this.flushTimer = setImmediate(() => {
        this.flushTimer = undefined;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.flushTimer !== undefined) {
      clearImmediate(this.flushTimer);
      this.flushTimer = undefined;
    }
    const batch = this.queue;
    if (batch.length === 0 || this.closed) return;
    this.queue = [];
    this.queuedEvents = 0;
    this.committing = true;
    try {
      this.commit(batch);
    } finally {
      this.committing = false;
      // Appends made by promise callbacks or subscribers during the commit wait for their own turn.
      this.scheduleFlush();
    }
  }

  private commit(batch: readonly PendingAppend[]): void {
    const headBefore = this.head;
    this.txTouched = new Set<string>();
    try {
      this.commitGroup.immediate(batch);
    } catch (error) {
      // Nothing of the group is on disk; what the group taught the revision cache may be false.
      for (const stream of this.txTouched) this.revisions.forget(stream);
      try {
        this.head = this.readHead();
      } catch {
        // The next successful transaction re-reads the head anyway.
      }
      const failure = unavailable(error, 'appending');
      for (const pending of batch) pending.sink.settle(pending.index, failure, true);
      return;
    }
    const groupStart = this.txHeadBefore;
    this.head = this.txPosition;
    this.revisions.committedUpTo(this.head);
    for (const pending of batch)
      pending.sink.settle(pending.index, pending.outcome as AppendResult | Error, false);
    if (this.onGroupCommit !== undefined) {
      try {
        this.onGroupCommit({ requests: batch.length, events: this.head - groupStart });
      } catch {
        // An observer's failure must not undo what was committed and acknowledged.
      }
    }
    if (this.head !== groupStart || headBefore !== groupStart) this.notify(batch, groupStart);
  }

  /**
   * Runs inside the write transaction. Each request's rows go in through a savepoint, so a request that fails
   * (a conflict, a constraint, a trigger, an I/O error on its rows) is undone alone and the others commit.
   * Only when SQLite itself rolled the transaction back (it does so for some disk and memory errors) does the
   * error escape and fail the whole group: then nothing of it is on disk.
   */
  private applyGroup(batch: readonly PendingAppend[]): void {
    const dbHead = this.readHead();
    this.revisions.reconcile(dbHead, (after) => this.streamsWrittenAfter.all(after) as string[]);
    this.txHeadBefore = dbHead;
    this.txPosition = dbHead;
    for (const pending of batch) {
      pending.firstPosition = NO_STREAM;
      try {
        pending.outcome = this.applyOne(pending);
      } catch (error) {
        if (!this.db.inTransaction) throw error;
        this.revisions.forget(pending.stream);
        pending.outcome =
          error instanceof ConcurrencyError || error instanceof InvalidAppendError
            ? error
            : unavailable(error, `appending to ${pending.stream}`);
      }
    }
  }

  /**
   * Decides one request against the stream's revision and writes it. A remembered revision that would refuse
   * the request, or rows that collide with stored ones, may come from a commit this process has not seen:
   * then the revision is read from the database and the request decided once more on what is really stored.
   */
  private applyOne(pending: PendingAppend): AppendResult {
    const { stream, ids } = pending;
    let current = this.currentRevision(stream);
    let fromDatabase = false;
    for (;;) {
      if (!satisfies(pending.expected, current)) {
        if (!fromDatabase) {
          current = this.revisionInDatabase(stream);
          fromDatabase = true;
          continue;
        }
        const retry = this.findRetry(pending);
        if (retry) return retry;
        throw new ConcurrencyError(stream, describeExpected(pending.expected), describeActual(current));
      }
      const firstPosition = this.txPosition + 1;
      let revision: number;
      try {
        // A failing statement is undone by SQLite on its own, so one row needs no savepoint; several do (the
        // savepoint's two statements are then shared by all of them).
        revision =
          ids.length === 1 ? this.insertRows(pending, current) : this.writeRequestRows(pending, current);
      } catch (error) {
        this.txPosition = firstPosition - 1;
        if (!isUniqueViolation(error) || !this.db.inTransaction) throw error;
        const retry = this.findRetry(pending);
        if (retry) return retry;
        if (fromDatabase) throw error;
        current = this.revisionInDatabase(stream);
        fromDatabase = true;
        continue;
      }
      this.revisions.remember(stream, revision);
      pending.firstPosition = firstPosition;
      pending.firstRevision = current + 1;
      const positions = new Array<LogPosition>(ids.length);
      for (let k = 0; k < ids.length; k++) positions[k] = toPosition(firstPosition + k);
      return { nextExpectedRevision: BigInt(revision), position: positions[ids.length - 1], positions };
    }
  }

  /** Inserts a request's rows after revision `current`; returns the stream's new last revision. */
  private insertRows(pending: PendingAppend, current: number): number {
    const { stream, ids } = pending;
    let revision = current;
    for (let k = 0; k < ids.length; k++) {
      this.insertEvent.run(
        ++this.txPosition,
        ids[k],
        stream,
        ++revision,
        pending.types[k],
        pending.data[k],
        pending.metadata[k],
      );
    }
    return revision;
  }

  /**
   * A request whose event ids are all stored already, in its stream, consecutively and in its order, is a
   * retry of an append that succeeded: it gets that append's result. A request only partly stored is a
   * mistake, not a retry. Null when none of the ids is stored.
   */
  private findRetry(pending: PendingAppend): AppendResult | null {
    const { stream, ids } = pending;
    const found = ids.map((id) => this.eventById.get(id) as [number, string, number] | undefined);
    const firstStored = found.findIndex((row) => row !== undefined);
    if (firstStored === -1) return null;
    const baseRevision = found[0]?.[2];
    for (let k = 0; k < ids.length; k++) {
      const row = found[k];
      if (
        row === undefined ||
        row[1] !== stream ||
        baseRevision === undefined ||
        row[2] !== baseRevision + k
      ) {
        throw new InvalidAppendError(
          `append to ${stream}: event id ${ids[firstStored]} is already stored (in stream ` +
            `${found[firstStored]?.[1]}) but the request is not a retry of the append that stored it`,
        );
      }
    }
    const positions = found.map((row) => toPosition((row as [number, string, number])[0]));
    return {
      nextExpectedRevision: BigInt((baseRevision as number) + ids.length - 1),
      position: positions[positions.length - 1],
      positions,
    };
  }

  private currentRevision(stream: string): number {
    this.txTouched.add(stream);
    const cached = this.revisions.get(stream);
    return cached ?? this.revisionInDatabase(stream);
  }

  private revisionInDatabase(stream: string): number {
    this.txTouched.add(stream);
    const revision = (this.lastRevisionOf.get(stream) as number | null) ?? NO_STREAM;
    this.revisions.remember(stream, revision);
    return revision;
  }

  // ---- subscriptions ---------------------------------------------------------------------------------------

  /**
   * After a commit of positions (groupStart, head]: a caught-up, idle subscriber at exactly groupStart gets
   * the group's events directly (they are the rows a read would return, in the same order); anyone else reads
   * the log from its checkpoint.
   */
  private notify(batch: readonly PendingAppend[], groupStart: number): void {
    let committed: RecordedEvent[] | undefined;
    let committedStored: StoredEvent[] | undefined;
    for (const subscription of [...this.subscriptions]) {
      const { subscriber } = subscription;
      if (subscriber.closed) {
        this.subscriptions.delete(subscription);
        continue;
      }
      if (!subscription.caughtUp || subscription.pumping || subscription.checkpoint !== groupStart) {
        this.schedulePump(subscription);
        continue;
      }
      const events = subscription.stored
        ? (committedStored ??= committedStoredEvents(batch))
        : (committed ??= committedEvents(batch));
      for (const event of events) {
        if (subscriber.closed) break;
        if (subscription.filter === null || subscription.filter.matches(event.stream, event.type)) {
          subscriber.next({ kind: 'event', event } as SubscriptionMessage | StoredSubscriptionMessage);
        }
      }
      subscription.checkpoint = this.head;
    }
  }

  private schedulePump(subscription: LiveSubscription): void {
    if (subscription.pumping || subscription.subscriber.closed) return;
    subscription.pumping = true;
    setImmediate(() => this.pump(subscription));
  }

  /** Reads one page after the checkpoint; schedules the next if the page was full, else reports caught-up. */
  private pump(subscription: LiveSubscription): void {
    const { subscriber } = subscription;
    if (this.closed || subscriber.closed) {
      subscription.pumping = false;
      return;
    }
    let rows: EventRow[];
    try {
      rows = this.reader.read(true, subscription.checkpoint, this.pageSize + 1, subscription.filter);
    } catch (error) {
      subscription.pumping = false;
      this.subscriptions.delete(subscription);
      subscriber.error(unavailable(error, 'reading $all for a subscription'));
      return;
    }
    const full = rows.length > this.pageSize;
    const count = full ? this.pageSize : rows.length;
    for (let i = 0; i < count; i++) {
      if (subscriber.closed) return;
      subscription.checkpoint = rows[i][0];
      subscriber.next(
        subscription.stored
          ? { kind: 'event', event: rowToStoredEvent(rows[i]) }
          : { kind: 'event', event: rowToEvent(rows[i]) },
      );
    }
    if (subscriber.closed) return;
    if (full) {
      setImmediate(() => this.pump(subscription));
      return;
    }
    // The read saw every committed row (commits and reads never interleave), so everything up to the head
    // that matches the filter has now been delivered.
    if (this.head > subscription.checkpoint) subscription.checkpoint = this.head;
    subscription.pumping = false;
    if (!subscription.caughtUp) {
      subscription.caughtUp = true;
      subscriber.next({ kind: 'caught-up', position: toPosition(subscription.checkpoint) });
    }
  }
}

function committedEvents(batch: readonly PendingAppend[]): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (const pending of batch) {
    const outcome = pending.outcome;
    if (outcome === undefined || outcome instanceof Error || pending.firstPosition < 0) continue;
    for (let k = 0; k < pending.ids.length; k++) {
      events.push({
        eventId: pending.ids[k],
        stream: pending.stream,
        revision: BigInt(pending.firstRevision + k),
        type: pending.types[k],
        // Parsed from the stored text, not the caller's object, which the caller may still mutate.
        data: JSON.parse(pending.data[k]) as JsonObject,
        metadata: parseObject(pending.metadata[k]),
        position: outcome.positions[k],
      });
    }
  }
  return events;
}

/** The group's events with their data and metadata as the transaction wrote them. */
function committedStoredEvents(batch: readonly PendingAppend[]): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (const pending of batch) {
    const outcome = pending.outcome;
    if (outcome === undefined || outcome instanceof Error || pending.firstPosition < 0) continue;
    for (let k = 0; k < pending.ids.length; k++) {
      events.push({
        eventId: pending.ids[k],
        stream: pending.stream,
        revision: BigInt(pending.firstRevision + k),
        type: pending.types[k],
        dataJson: pending.data[k],
        metadataJson: pending.metadata[k] ?? EMPTY_METADATA,
        position: outcome.positions[k],
      });
    }
  }
  return events;
}

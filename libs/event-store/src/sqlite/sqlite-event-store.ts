import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Observable, type Subscriber } from 'rxjs';
import { InvalidAppendError, StoreClosedError } from '../errors';
import type {
  AppendRequest,
  AppendResult,
  EventStore,
  JsonObject,
  ReadAllDataOptions,
  ReadAllDataPage,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  SerializedAppendRequest,
  StoredEvent,
  StoredSubscriptionMessage,
  SubscribeOptions,
  SubscriptionMessage,
} from '../event-store.port';
import { START, type LogPosition } from '../position';
import {
  AllReader,
  compileFilter,
  decodeRows,
  EVENT_COLUMNS_READ,
  type CompiledFilter,
  type EventRow,
} from './all-reader';
import {
  EMPTY_METADATA,
  prepareAppend,
  prepareSerializedAppend,
  type AppendSink,
  type PendingAppend,
} from './append-request';
import { configureConnection } from './connection';
import { ForeignCommitWatcher } from './foreign-commit-watcher';
import { GroupCommitter, unavailable, type GroupCommitOutcome } from './group-committer';
import { mayOvertake, SMALL_REQUEST_EVENTS, takeSmall, takeSmallAhead } from './priority-lane';
import { NO_STREAM } from './revision-cache';
import { DataReader } from './data-reader';
import { WriterThread } from './writer-thread';
import { validateReadAllData } from '../read-all-data';
import { migrate } from './schema';
import { StoredRowCodec } from './stored-row';

export interface SqliteEventStoreOptions {
  readonly dataDir: string;
  /** Defaults to `events.sqlite3`. */
  readonly fileName?: string;
  /**
   * Queued appends are committed on the next turn of the event loop, or at once when they hold this many
   * events; a group holds at most this many (one bigger request alone excepted), so a flood of appends cannot
   * grow one transaction without bound.
   */
  readonly maxBatchEvents?: number;
  /** Rows a subscription reads per step while catching up; it yields to the event loop between steps. */
  readonly subscriptionPageSize?: number;
  /** Streams whose last revision is remembered between appends. */
  readonly revisionCacheSize?: number;
  /** Told about every committed group, e.g. to feed metrics on how well appends coalesce. */
  readonly onGroupCommit?: (commit: GroupCommitInfo) => void;
  /**
   * Run group commits on a writer thread with its own connection (`writer-thread.ts`), so the event loop keeps
   * serving reads while a big group is written and fsynced. Appends are still acknowledged only after the
   * fsync. Off by default (a short-lived CLI gains nothing from a thread); the service turns it on.
   */
  readonly writerThread?: boolean;
  /** Told when opening rewrites an older file to the current schema (`schema.ts`, `migrate`), and when done. */
  readonly onMigration?: (message: string) => void;
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

/**
 * The embedded event store: one SQLite file in WAL mode, written through group commit.
 *
 * Concurrent appends queue up and are committed together in one transaction (one fsync) on the next turn of
 * the event loop, by the `GroupCommitter` (on this connection, or on the writer thread's; one group at a time,
 * at most `maxBatchEvents` events a group unless one request alone is bigger). Subscribers are woken after
 * each commit and read the new rows from the database, except when a caught-up subscriber sits exactly at
 * the previous head: then the just-committed events are handed over directly, which is the same sequence a
 * read would return.
 */
export class SqliteEventStore implements EventStore {
  readonly name = 'sqlite';

  private readonly reader: AllReader;
  private readonly dataReader: DataReader;
  private readonly codec: StoredRowCodec;
  private readonly maxBatchEvents: number;
  private readonly pageSize: number;
  private readonly onGroupCommit: ((commit: GroupCommitInfo) => void) | undefined;

  private readonly lastPosition: Database.Statement<unknown[], unknown>;
  private readonly streamForwards: Database.Statement<unknown[], unknown>;
  private readonly streamBackwards: Database.Statement<unknown[], unknown>;
  /** Exactly one of the two writes: the writer thread when asked for, else this connection. */
  private readonly committer: GroupCommitter | null;
  private readonly thread: WriterThread | null;
  /** The groups posted to the writer thread whose outcome was not handed out yet. */
  private readonly inFlight = new Set<Promise<void>>();
  /** The group in flight on the writer thread that holds a big request: urgent groups may be posted behind it. */
  private bigInFlight: readonly PendingAppend[] | null = null;
  /**
   * Urgent groups in flight that may not go first: the thread commits them after the big group, in the order
   * posted. A later urgent group goes first only if its requests may overtake theirs too.
   */
  private readonly heldBehindBig = new Set<readonly PendingAppend[]>();

  /** Last committed position as this process knows it. */
  private head: number;

  private queue: PendingAppend[] = [];
  private queuedEvents = 0;
  private flushTimer: NodeJS.Immediate | undefined;
  /**
   * True from the start of a group commit until its subscribers were told; blocks re-entrant commits (and, with
   * the writer thread, a second group while one is in flight).
   */
  private committing = false;
  private closed = false;
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly foreignCommits: ForeignCommitWatcher;

  private constructor(
    private readonly db: Database.Database,
    file: string,
    options: SqliteEventStoreOptions,
  ) {
    this.maxBatchEvents = Math.max(1, options.maxBatchEvents ?? 10_000);
    this.pageSize = Math.max(1, options.subscriptionPageSize ?? 2_000);
    this.onGroupCommit = options.onGroupCommit;
    this.codec = new StoredRowCodec(db);
    this.reader = new AllReader(db, this.codec);
    this.dataReader = new DataReader(db, this.codec);
    this.lastPosition = db.prepare('SELECT max(position) FROM events').pluck();
    this.streamForwards = db
      .prepare(
        `SELECT ${EVENT_COLUMNS_READ} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?`,
      )
      .raw();
    this.streamBackwards = db
      .prepare(
        `SELECT ${EVENT_COLUMNS_READ} FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
      )
      .raw();
    this.head = this.readHead();
    const revisionCacheSize = Math.max(1, options.revisionCacheSize ?? 100_000);
    this.thread = options.writerThread === true ? new WriterThread({ file, revisionCacheSize }) : null;
    this.committer = this.thread === null ? new GroupCommitter(db, revisionCacheSize) : null;
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
      configureConnection(db);
      migrate(db, options.onMigration);
      return new SqliteEventStore(db, file, options);
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

  /**
   * The columns go to the group commit as they came: no object and no string per event on this thread. Their
   * per-event rules (ids, types, each text exactly `JSON.stringify`'s) are checked by the group committer,
   * on the writer thread when there is one, before its transaction.
   */
  appendSerialized(request: SerializedAppendRequest): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      if (this.closed) throw new StoreClosedError();
      const sink: AppendSink = {
        settle: (_index, outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)),
      };
      this.enqueue(prepareSerializedAppend(request, sink, 0));
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
      const stored = (backwards ? this.streamBackwards : this.streamForwards).all(
        stream,
        from,
        limit,
      ) as unknown[][];
      rows = decodeRows(stored, this.codec);
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
    if (this.thread === null) while (this.queue.length > 0 && !this.committing) this.startGroup();
    this.closed = true;
    this.foreignCommits.stop();
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    if (this.thread !== null) {
      while (this.inFlight.size > 0 || this.queue.length > 0) {
        if (this.inFlight.size === 0) this.startGroup();
        await Promise.all(this.inFlight);
      }
      await this.thread.close();
    }
    const subscriptions = [...this.subscriptions];
    this.subscriptions.clear();
    for (const subscription of subscriptions) subscription.subscriber.error(new StoreClosedError());
    this.db.close();
  }

  /**
   * Another connection committed: wake the subscribers, which read the new rows from the database. The writer
   * thread's connection is another connection too, so most changes seen here are this store's own groups:
   * rows up to the head it was told of were handed to subscribers already, and rows beyond it while a group
   * is in flight may be that group's, which its settlement hands over (a foreign commit before it shows as a
   * gap at its start, which makes subscribers read). Waking subscribers for those made them re-read and parse
   * every group of a bulk ingest from the database, five times a second, on the event loop.
   */
  private onForeignCommit(): boolean {
    let dbHead: number;
    try {
      dbHead = this.readHead();
    } catch {
      dbHead = Number.POSITIVE_INFINITY;
    }
    if (dbHead <= this.head) return true;
    if (this.thread !== null && this.committing) return false;
    if (this.queue.length === 0 && !this.committing && Number.isFinite(dbHead)) this.head = dbHead;
    for (const subscription of this.subscriptions) this.schedulePump(subscription);
    return true;
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
    if (this.queue.length === 0 || this.closed) return;
    if (!this.committing) {
      this.startGroup();
      return;
    }
    // With the writer thread, the group after the one in flight is taken when that one has been answered; but
    // small appends that may go ahead (`takeSmall`) are posted at once behind a big group, so the thread
    // commits them as soon as the big one is done, without waiting for the event loop — busy building the
    // next batch, perhaps — to handle its answer first. Only behind a big one, so small groups never queue on
    // the thread behind each other. When each of its requests may also be committed before every request of
    // the big group and of the urgent groups held behind it (`mayOvertake`: an authorization's view beside a
    // batch of views), the thread commits it in the middle of preparing the big one instead of after it. Each
    // turn of the loop may post one: an authorization arriving while an earlier one is still on the thread
    // does not wait for the whole big group (it did, when one urgent group at a time was allowed: that wait
    // was most of an authorization's p99 during bulk ingest).
    const big = this.bigInFlight;
    if (this.thread !== null && big !== null) {
      const urgent = takeSmall(this.queue, this.maxBatchEvents);
      if (urgent === null) return;
      this.queue = urgent.rest;
      this.queuedEvents -= urgent.events;
      const ahead = [big, ...this.heldBehindBig];
      const goesFirst = urgent.group.every((later) =>
        ahead.every((group) => group.every((earlier) => mayOvertake(later, earlier))),
      );
      if (!goesFirst) this.heldBehindBig.add(urgent.group);
      this.postGroup(this.thread, urgent.group, false, goesFirst);
    }
  }

  /**
   * Takes the next group off the queue: requests in order up to `maxBatchEvents` events (one request is never
   * split), so what waits behind one group is bounded even when the queue grew during the last one. When big
   * requests head the queue, the small ones queued behind them go first, in a group of their own (see
   * `PriorityLane`): an authorization's one event does not wait for a 1000-view batch's inserts.
   */
  private takeGroup(): PendingAppend[] {
    const urgent = takeSmallAhead(this.queue, this.maxBatchEvents);
    if (urgent !== null) {
      this.queue = urgent.rest;
      this.queuedEvents -= urgent.events;
      return urgent.group;
    }
    let events = this.queue[0].ids.length;
    let count = 1;
    while (count < this.queue.length && events + this.queue[count].ids.length <= this.maxBatchEvents) {
      events += this.queue[count++].ids.length;
    }
    const batch = count === this.queue.length ? this.queue : this.queue.slice(0, count);
    this.queue = count === this.queue.length ? [] : this.queue.slice(count);
    this.queuedEvents -= events;
    return batch;
  }

  private startGroup(): void {
    const batch = this.takeGroup();
    this.committing = true;
    if (this.thread !== null) {
      this.postGroup(
        this.thread,
        batch,
        batch.some((pending) => pending.ids.length > SMALL_REQUEST_EVENTS),
      );
      return;
    }
    try {
      this.finishGroup(batch, (this.committer as GroupCommitter).commit(batch));
    } catch (error) {
      this.committing = false;
      throw error;
    }
  }

  /**
   * Posts a group to the writer thread, behind any in flight (or, `mayGoFirst`, possibly ahead of the one
   * being prepared); its outcome is handed out in the order the thread committed the groups.
   */
  private postGroup(
    thread: WriterThread,
    batch: readonly PendingAppend[],
    big: boolean,
    mayGoFirst = false,
  ): void {
    this.committing = true;
    if (big) this.bigInFlight = batch;
    const answered: Promise<void> = thread.commit(batch, mayGoFirst).then((outcome) => {
      this.inFlight.delete(answered);
      if (this.bigInFlight === batch) this.bigInFlight = null;
      this.heldBehindBig.delete(batch);
      this.finishGroup(batch, outcome);
    });
    this.inFlight.add(answered);
  }

  /** Hands out a group's outcome: callers settled, observers and subscribers told, the next group flushed. */
  private finishGroup(batch: readonly PendingAppend[], outcome: GroupCommitOutcome): void {
    try {
      this.settleGroup(batch, outcome);
    } finally {
      // A group posted behind this one on the writer thread is still committing.
      this.committing = this.thread !== null && this.thread.groupsInFlight > 0;
      // Appends made by promise callbacks or subscribers during the commit wait for their own turn.
      if (!this.closed) this.scheduleFlush();
    }
  }

  private settleGroup(batch: readonly PendingAppend[], outcome: GroupCommitOutcome): void {
    const headBefore = this.head;
    if (!outcome.ok) {
      try {
        this.head = this.readHead();
      } catch {
        // The next successful transaction re-reads the head anyway.
      }
      for (const pending of batch) pending.sink.settle(pending.index, outcome.error, true);
      return;
    }
    const { groupStart } = outcome;
    this.head = outcome.head;
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

/**
 * One value per event the group committed (failed requests and retries skipped), in commit order. A written
 * request's rows sit at consecutive positions from its first.
 */
function committedOf<T>(
  batch: readonly PendingAppend[],
  build: (pending: PendingAppend, k: number, position: LogPosition) => T,
): T[] {
  const events: T[] = [];
  for (const pending of batch) {
    const outcome = pending.outcome;
    if (outcome === undefined || outcome instanceof Error || pending.firstPosition < 0) continue;
    for (let k = 0; k < pending.ids.length; k++)
      events.push(build(pending, k, toPosition(pending.firstPosition + k)));
  }
  return events;
}

/**
 * The group's events for parsed subscribers. `data` is parsed from the stored text (not the caller's object,
 * which the caller may still mutate) on first read: a 1000-view group reaches the projection, which reads
 * only a view's type and metadata, without a thousand parses on the event loop before the next request.
 */
function committedEvents(batch: readonly PendingAppend[]): RecordedEvent[] {
  return committedOf(batch, (pending, k, position) => {
    const text = pending.data[k];
    let data: JsonObject | undefined;
    return {
      eventId: pending.ids[k],
      stream: pending.stream,
      revision: BigInt(pending.firstRevision + k),
      type: pending.types[k],
      get data(): JsonObject {
        return (data ??= JSON.parse(text) as JsonObject);
      },
      metadata: parseObject(pending.metadata[k]),
      position,
    };
  });
}

/** The group's events with their data and metadata as the transaction wrote them. */
function committedStoredEvents(batch: readonly PendingAppend[]): StoredEvent[] {
  return committedOf(batch, (pending, k, position) => ({
    eventId: pending.ids[k],
    stream: pending.stream,
    revision: BigInt(pending.firstRevision + k),
    type: pending.types[k],
    dataJson: pending.data[k],
    metadataJson: pending.metadata[k] ?? EMPTY_METADATA,
    position,
  }));
}

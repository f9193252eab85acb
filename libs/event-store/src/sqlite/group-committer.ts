import type Database from 'better-sqlite3';
import { checkSerializedEvents } from '../append-rules';
import { ConcurrencyError, EventStoreError, InvalidAppendError, StoreUnavailableError } from '../errors';
import type { AppendResult, ExpectedRevision } from '../event-store.port';
import type { LogPosition } from '../position';
import { EVENT_COLUMNS } from './all-reader';
import type { PendingAppend } from './append-request';
import { NO_STREAM, RevisionCache } from './revision-cache';
import { StoredRowCodec, storedEventId } from './stored-row';

/**
 * What the write transaction needs of a queued append, and where it records what it did. A `PendingAppend`
 * is one; the writer thread rebuilds the same shape from a message, without the caller's sink.
 */
export type GroupMember = Pick<
  PendingAppend,
  'stream' | 'expected' | 'ids' | 'types' | 'data' | 'metadata' | 'unchecked'
> &
  Pick<PendingAppend, 'outcome' | 'firstPosition' | 'firstRevision'>;

/** A committed group spans positions (groupStart, head]; a failed one wrote nothing. */
export type GroupCommitOutcome =
  | { readonly ok: true; readonly groupStart: number; readonly head: number }
  | { readonly ok: false; readonly error: EventStoreError };

function toPosition(position: number): LogPosition {
  const value = BigInt(position);
  return { commit: value, prepare: value };
}

/**
 * The result of a request whose `count` rows were written from `firstPosition` on: their positions are
 * consecutive, so the list is made only if a caller reads it. A 1000-view append is answered with its last
 * position alone, without a thousand position objects (and two thousand BigInts) made, or copied between
 * threads, for nobody.
 */
export function writtenResult(firstPosition: number, count: number, lastRevision: number): AppendResult {
  let positions: LogPosition[] | undefined;
  return {
    nextExpectedRevision: BigInt(lastRevision),
    position: toPosition(firstPosition + count - 1),
    get positions(): LogPosition[] {
      if (positions === undefined) {
        positions = new Array<LogPosition>(count);
        for (let k = 0; k < count; k++) positions[k] = toPosition(firstPosition + k);
      }
      return positions;
    },
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

export function unavailable(error: unknown, doing: string): EventStoreError {
  if (error instanceof EventStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`${doing} failed: ${message}`, { cause: error });
}

/** A member's type ids and stored data texts, as its rows are inserted. */
interface CodedRows {
  readonly typeIds: number[];
  readonly data: string[];
}

/** Rows coded between two calls of a commit's `between`: a tenth of a 1000-row group's coding. */
const PRECODE_SLICE = 100;

/** Rows inserted between two calls of a commit's `giveWay`. */
const INSERT_SLICE = 100;

function noPause(): void {}

function neverGiveWay(): boolean {
  return false;
}

/** Thrown inside the write transaction to roll it back when `giveWay` asks for the connection. */
const GAVE_WAY = Symbol('gave way');

/**
 * Checks the serialized members' per-event rules (`appendSerialized`) before the transaction, here on the
 * thread that writes: a refused member gets its error as outcome and stays out of the transaction. Returns
 * the members to write (the batch itself when none was refused).
 */
function refuseInvalidRows(batch: readonly GroupMember[], between: () => void): readonly GroupMember[] {
  let refused = false;
  for (const member of batch) {
    if (!member.unchecked) continue;
    between();
    try {
      checkSerializedEvents(
        member.stream,
        { eventIds: member.ids, types: member.types, dataJson: member.data },
        between,
      );
    } catch (error) {
      if (!(error instanceof InvalidAppendError)) throw error;
      member.outcome = error;
      member.firstPosition = NO_STREAM;
      refused = true;
    }
  }
  return refused ? batch.filter((member) => !(member.outcome instanceof InvalidAppendError)) : batch;
}

/**
 * The write transaction of group commit, on one connection: a group of appends committed together (one
 * fsync). Expected revisions are checked against remembered stream revisions (reconciled with the database at
 * the start of every transaction, and re-read from it before a conflict is reported), and each request writes
 * its rows inside its own savepoint, so one request's conflict or failure never aborts its neighbours; only a
 * failure of the transaction itself fails the whole group. It runs on the store's own connection, or on the
 * writer thread's (`writer-thread.ts`), which is what keeps a big group off the event loop.
 */
export class GroupCommitter {
  private readonly insertEvent: Database.Statement<unknown[], unknown>;
  private readonly streamsWrittenAfter: Database.Statement<unknown[], unknown>;
  private readonly lastRevisionOf: Database.Statement<unknown[], unknown>;
  private readonly lastPosition: Database.Statement<unknown[], unknown>;
  private readonly eventById: Database.Statement<unknown[], unknown>;
  private readonly commitGroup: Database.Transaction<
    (batch: readonly GroupMember[], precoded: Map<GroupMember, CodedRows>) => void
  >;
  /** Nested inside `commitGroup`, so it runs as a savepoint: one request's rows, all or none. */
  private readonly writeRequestRows: Database.Transaction<(pending: GroupMember, current: number) => number>;
  private readonly revisions: RevisionCache;
  private readonly rows: StoredRowCodec;
  /** Each member's type ids and stored data, coded before any of the group's savepoints. */
  private coded = new Map<GroupMember, CodedRows>();

  /** Asked between slices of the running transaction's inserts; `neverGiveWay` once it may not give way. */
  private txGiveWay: () => boolean = neverGiveWay;
  /** Rows the running transaction has inserted. */
  private txRows = 0;
  /** Head at the start of the running write transaction, after noticing writes by other connections. */
  private txHeadBefore = NO_STREAM;
  /** Last position assigned inside the running write transaction. */
  private txPosition = NO_STREAM;
  private txTouched = new Set<string>();

  constructor(
    private readonly db: Database.Database,
    revisionCacheSize: number,
  ) {
    this.insertEvent = db.prepare(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.streamsWrittenAfter = db.prepare('SELECT DISTINCT stream FROM events WHERE position > ?').pluck();
    this.lastRevisionOf = db.prepare('SELECT max(revision) FROM events WHERE stream = ?').pluck();
    this.lastPosition = db.prepare('SELECT max(position) FROM events').pluck();
    this.eventById = db.prepare('SELECT position, stream, revision FROM events WHERE event_id = ?').raw();
    this.commitGroup = db.transaction(
      (batch: readonly GroupMember[], precoded: Map<GroupMember, CodedRows>) =>
        this.applyGroup(batch, precoded),
    );
    this.writeRequestRows = db.transaction((pending: GroupMember, current: number) =>
      this.insertRows(pending, current),
    );
    this.revisions = new RevisionCache(Math.max(1, revisionCacheSize), this.readHead());
    this.rows = new StoredRowCodec(db);
  }

  /**
   * Commits the group in one transaction, recording each member's outcome on the member itself. The work that
   * needs no transaction comes first — the serialized rows' checks, and the coding of rows whose type and
   * shape are known — and `between` is called between its slices and right before the transaction begins: the
   * writer thread commits the small groups queued meanwhile there, ahead of this one (`writer.worker.ts`).
   * Inside the transaction, `giveWay` is asked between slices of the inserts: when it says another group is
   * waiting, the transaction is rolled back, `between` runs, and the group is written again from the start. It
   * gives way as long as the rows it has had to write again are fewer than its own: a steady stream of small
   * appends never starves a batch of views (at most twice its inserts), while a burst of authorizations, which
   * mostly arrive early in an attempt and cost a slice each, is let through whole (a fixed count of give-ways
   * was spent by one burst, and the rest of it waited for the whole group). So what a one-event append waits
   * for behind a 1000-view group is at most a slice of it, or its commit. `between` may itself commit other
   * groups through this committer: it is never called inside a transaction.
   */
  commit(
    batch: readonly GroupMember[],
    between: () => void = noPause,
    giveWay: () => boolean = neverGiveWay,
  ): GroupCommitOutcome {
    let writable: readonly GroupMember[];
    let precoded: Map<GroupMember, CodedRows>;
    try {
      writable = refuseInvalidRows(batch, between);
      precoded = this.precode(writable, between);
    } catch (error) {
      return { ok: false, error: unavailable(error, 'appending') };
    }
    let rows = 0;
    for (const member of writable) rows += member.ids.length;
    for (let rewritten = 0; ; rewritten += this.txRows) {
      between();
      this.txTouched = new Set<string>();
      this.txRows = 0;
      this.txGiveWay = rewritten < rows ? giveWay : neverGiveWay;
      try {
        this.commitGroup.immediate(writable, precoded);
        break;
      } catch (error) {
        // Nothing of the group is on disk; what the transaction taught the revision cache may be false.
        for (const stream of this.txTouched) this.revisions.forget(stream);
        if (error === GAVE_WAY) continue;
        this.coded.clear();
        try {
          this.rows.reload();
        } catch {
          // Read again on the next group's first unknown type or shape.
        }
        return { ok: false, error: unavailable(error, 'appending') };
      } finally {
        this.txGiveWay = neverGiveWay;
      }
    }
    this.coded.clear();
    this.revisions.committedUpTo(this.txPosition);
    return { ok: true, groupStart: this.txHeadBefore, head: this.txPosition };
  }

  private readHead(): number {
    return (this.lastPosition.get() as number | null) ?? NO_STREAM;
  }

  /**
   * Each member's rows coded as far as no transaction is needed: known types and shapes only (ids the store
   * committed, so no failed transaction can take them back); the rest is left (-1, undefined) for
   * `applyGroup`. `between` is called every `PRECODE_SLICE` rows.
   */
  private precode(batch: readonly GroupMember[], between: () => void): Map<GroupMember, CodedRows> {
    const precoded = new Map<GroupMember, CodedRows>();
    let sinceYield = 0;
    for (const pending of batch) {
      const count = pending.ids.length;
      const typeIds = new Array<number>(count);
      const data = new Array<string | undefined>(count);
      for (let k = 0; k < count; k++) {
        if (++sinceYield === PRECODE_SLICE) {
          sinceYield = 0;
          between();
        }
        typeIds[k] = this.rows.knownTypeId(pending.types[k]) ?? -1;
        data[k] = this.rows.codeDataIfKnown(pending.data[k]);
      }
      precoded.set(pending, { typeIds, data: data as string[] });
    }
    return precoded;
  }

  /**
   * Runs inside the write transaction. Each request's rows go in through a savepoint, so a request that fails
   * (a conflict, a constraint, a trigger, an I/O error on its rows) is undone alone and the others commit.
   * Only when SQLite itself rolled the transaction back (it does so for some disk and memory errors) does the
   * error escape and fail the whole group: then nothing of it is on disk.
   */
  private applyGroup(batch: readonly GroupMember[], precoded: Map<GroupMember, CodedRows>): void {
    const dbHead = this.readHead();
    this.revisions.reconcile(dbHead, (after) => this.streamsWrittenAfter.all(after) as string[]);
    this.txHeadBefore = dbHead;
    this.txPosition = dbHead;
    // New types and shapes are interned here, outside every request's savepoint, so a request undone alone
    // never takes back an id the codec has handed out to another.
    this.coded = precoded;
    for (const pending of batch) {
      const { typeIds, data } = precoded.get(pending) as CodedRows;
      for (let k = 0; k < typeIds.length; k++) {
        // What is interned here is taken back with the transaction, and the group's coded rows would keep it:
        // a transaction that interns may not give way and be written again from them.
        if (typeIds[k] < 0) {
          typeIds[k] = this.rows.internType(pending.types[k]);
          this.txGiveWay = neverGiveWay;
        }
        if (data[k] === undefined) {
          data[k] = this.rows.codeData(pending.data[k]);
          this.txGiveWay = neverGiveWay;
        }
      }
    }
    for (const pending of batch) {
      pending.firstPosition = NO_STREAM;
      try {
        pending.outcome = this.applyOne(pending);
      } catch (error) {
        if (error === GAVE_WAY || !this.db.inTransaction) throw error;
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
  private applyOne(pending: GroupMember): AppendResult {
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
      return writtenResult(firstPosition, ids.length, revision);
    }
  }

  /** Inserts a request's rows after revision `current`; returns the stream's new last revision. */
  private insertRows(pending: GroupMember, current: number): number {
    const { stream, ids } = pending;
    const coded = this.coded.get(pending);
    if (coded === undefined) throw new Error('a group member was not coded before its rows were written');
    let revision = current;
    for (let k = 0; k < ids.length; k++) {
      if (this.txRows !== 0 && this.txRows % INSERT_SLICE === 0 && this.txGiveWay()) throw GAVE_WAY;
      this.txRows++;
      this.insertEvent.run(
        ++this.txPosition,
        storedEventId(ids[k]),
        stream,
        ++revision,
        coded.typeIds[k],
        coded.data[k],
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
  private findRetry(pending: GroupMember): AppendResult | null {
    const { stream, ids } = pending;
    const found = ids.map(
      (id) => this.eventById.get(storedEventId(id)) as [number, string, number] | undefined,
    );
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
}

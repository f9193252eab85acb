import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeviceEventType, Streams, toDeviceEvent, toPackedChange, type UserKeys } from '@ledger/domain';
import {
  comparePositions,
  START,
  type AllFilter,
  type EventStore,
  type JsonObject,
  type LogPosition,
  type RecordedEvent,
} from '@ledger/event-store';
import {
  ACTION_CODES,
  allocRecords,
  MAX_TEXT_BYTES,
  MEDIA_TYPE_CODES,
  NO_KEY,
  OWNERSHIP_RECORD_BYTES,
  recordArrays,
  REGISTERED_KIND,
  VIEW_RECORD_BYTES,
} from './column-layout';
import { parseStoredTime as parseViewTime } from '../stored-time';
import { detached, emptyViewKeys, readViewKeys } from '../view-keys';

/** Where the projection lives inside the embedded store's data dir. */
export const VIEW_COLUMNS_DIR = 'replay-columns';

const FORMAT = 1;
export const COLUMN_FILES = ['ids.jsonl', 'ownership.bin', 'views.bin', 'view-text.bin'] as const;
type ColumnFile = (typeof COLUMN_FILES)[number];
const CHECKPOINT_FILE = 'checkpoint.json';
const LOCK_FILE = 'catch-up.lock';
/** A lock whose holder has not touched it for this long is taken over. */
const LOCK_STALE_MS = 60_000;
const READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);
const DEFAULT_PAGE_SIZE = 5000;

interface StoredCheckpoint {
  readonly format: number;
  /** Every event at or before it is in the files (as `commit`/`prepare` decimal strings). */
  readonly position: { readonly commit: string; readonly prepare: string };
  /** The last event read, which must still be where it was for the files to stand for the log. */
  readonly last: { readonly stream: string; readonly revision: string; readonly eventId: string } | null;
  /** Bytes of each file that the checkpoint covers; anything past them is an append a crash cut short. */
  readonly lengths: Readonly<Record<ColumnFile, number>>;
  readonly ids: number;
  readonly ownershipChanges: number;
  readonly views: number;
  /** Set when an event cannot be held in columns exactly: the replay then reads the log. */
  readonly unsupported: string | null;
}

/** What a caught-up projection hands the replay: the ids, and how much of each file is its. */
export interface ColumnsView {
  readonly dir: string;
  readonly position: LogPosition;
  readonly ids: readonly string[];
  readonly ownershipChanges: number;
  readonly views: number;
  readonly textBytes: number;
}

export type CatchUpResult =
  | {
      readonly usable: true;
      readonly view: ColumnsView;
      readonly appended: number;
      readonly discarded: boolean;
    }
  | { readonly usable: false; readonly why: string; readonly discarded: boolean };

export interface CatchUpOptions {
  readonly pageSize?: number;
  readonly onProgress?: (eventsRead: number) => void;
}

function emptyCheckpoint(): StoredCheckpoint {
  return {
    format: FORMAT,
    position: { commit: START.commit.toString(), prepare: START.prepare.toString() },
    last: null,
    lengths: { 'ids.jsonl': 0, 'ownership.bin': 0, 'views.bin': 0, 'view-text.bin': 0 },
    ids: 0,
    ownershipChanges: 0,
    views: 0,
    unsupported: null,
  };
}

const toPosition = (p: StoredCheckpoint['position']): LogPosition => ({
  commit: BigInt(p.commit),
  prepare: BigInt(p.prepare),
});

/** Interns ids for the records: an id's key is the order it was first seen in the log. */
class IdTable implements UserKeys {
  private index: Map<string, number> | null = null;
  readonly added: string[] = [];

  constructor(readonly ids: string[]) {}

  keyOf(id: string): number {
    return this.map().get(id) ?? -1;
  }

  keyFor(id: string): number {
    const map = this.map();
    let key = map.get(id);
    if (key === undefined) {
      // Ids read off a page's text are slices of it: what is kept must not pin the page.
      const own = detached(id);
      key = this.ids.push(own) - 1;
      map.set(own, key);
      this.added.push(own);
    }
    return key;
  }

  idOf(key: number): string {
    return this.ids[key];
  }

  private map(): Map<string, number> {
    this.index ??= new Map(this.ids.map((id, key) => [id, key]));
    return this.index;
  }
}

class NotColumnar extends Error {}

/** Records of one stretch of the log, waiting for the next checkpoint. */
class PendingRecords {
  ownership: number[] = []; // at, expiresAt, device, user, previousOwner, kind, keepViewers
  views: number[] = []; // at, device, viewer, eventIdBytes, mediaIdBytes, mediaType, action
  text: string[] = [];
}

const OWNERSHIP_FILTER: AllFilter = { streamPrefixes: [Streams.devicePrefix] };
const VIEW_FILTER: AllFilter = { eventTypes: ['MediaViewed'] };
/** Records buffered before they are written out (unsynced: the checkpoint at the end makes them count). */
const RECORDS_PER_WRITE = 65_536;

/**
 * Appends one catch-up's records past the checkpoint's lengths as they come (a crash leaves them past the
 * checkpoint, where the next open cuts them off), then syncs every file and returns the checkpoint covering
 * them, for the caller to write last.
 */
class StretchWriter {
  pending = new PendingRecords();
  unsupported: string | null;
  private readonly lengths: Record<ColumnFile, number>;
  private ownershipChanges: number;
  private views: number;
  private readonly fds = new Map<ColumnFile, number>();

  constructor(
    private readonly dir: string,
    private readonly checkpoint: StoredCheckpoint,
    private readonly ids: IdTable,
  ) {
    this.unsupported = checkpoint.unsupported;
    this.lengths = { ...checkpoint.lengths };
    this.ownershipChanges = checkpoint.ownershipChanges;
    this.views = checkpoint.views;
  }

  /** Runs one event's encoding; an event the records cannot hold marks the projection unsupported. */
  guard(encodeOne: () => void): void {
    try {
      encodeOne();
    } catch (error) {
      if (!(error instanceof NotColumnar)) throw error;
      this.unsupported = error.message;
    }
  }

  flushIfFull(): void {
    if (this.pending.ownership.length + this.pending.views.length >= RECORDS_PER_WRITE * 7) this.flush();
  }

  finish(last: RecordedEvent): StoredCheckpoint {
    try {
      if (this.unsupported === null) {
        this.flush();
        for (const fd of this.fds.values()) fs.fsyncSync(fd);
      }
    } finally {
      for (const fd of this.fds.values()) fs.closeSync(fd);
      this.fds.clear();
    }
    const kept = this.unsupported === null;
    return {
      format: FORMAT,
      position: { commit: last.position.commit.toString(), prepare: last.position.prepare.toString() },
      last: { stream: last.stream, revision: last.revision.toString(), eventId: last.eventId },
      lengths: kept ? this.lengths : this.checkpoint.lengths,
      ids: kept ? this.ids.ids.length : this.checkpoint.ids,
      ownershipChanges: kept ? this.ownershipChanges : this.checkpoint.ownershipChanges,
      views: kept ? this.views : this.checkpoint.views,
      unsupported: this.unsupported,
    };
  }

  private flush(): void {
    const { pending } = this;
    this.write('ids.jsonl', idLines(this.ids.added));
    this.ids.added.length = 0;
    this.write('ownership.bin', ownershipBuffer(pending.ownership));
    this.write('views.bin', viewBuffer(pending.views));
    this.write('view-text.bin', Buffer.from(pending.text.join(''), 'utf8'));
    this.ownershipChanges += pending.ownership.length / 7;
    this.views += pending.views.length / 7;
    this.pending = new PendingRecords();
  }

  private write(file: ColumnFile, bytes: Buffer): void {
    if (bytes.length === 0) return;
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dir, file), fs.constants.O_WRONLY | fs.constants.O_CREAT);
      this.fds.set(file, fd);
    }
    const offset = this.lengths[file];
    for (let done = 0; done < bytes.length;) {
      done += fs.writeSync(fd, bytes, done, bytes.length - done, offset + done);
    }
    this.lengths[file] += bytes.length;
  }
}

/** `readAllData` forwards from `from` up to and including `upTo`, a page at a time. */
async function scanData(
  store: EventStore,
  from: LogPosition,
  upTo: LogPosition,
  filter: AllFilter,
  pageSize: number,
  progress: (count: number) => void,
  visit: (eventIds: readonly string[], types: readonly string[], dataJson: readonly string[]) => void,
): Promise<void> {
  let at = from;
  while (comparePositions(at, upTo) < 0) {
    const page = await store.readAllData({ from: at, upTo, maxCount: pageSize, filter });
    if (page.eventIds.length > 0) {
      visit(page.eventIds, page.types, page.dataJson);
      progress(page.eventIds.length);
    }
    if (page.isEnd || comparePositions(page.next, at) <= 0) return;
    at = page.next;
  }
}

/**
 * The replay's views projection (contract §4 without parsing the log): every ownership change and every view
 * as fixed-size records of interned ids and epoch ms, in the order of the log, in `<dataDir>/replay-columns/`.
 * It is a projection like the others: derived from the log alone, append-only, with a checkpoint (the log
 * position it has read up to and the event there), rebuilt from position zero byte for byte (so its digest
 * after a rebuild equals the live one), caught up from its checkpoint when it is used, and discarded and
 * rebuilt when the event at its checkpoint is no longer the one it read (another log, a restored backup).
 * An event it cannot hold exactly (a view field that is not a string, an unknown media type, a time that does
 * not parse) marks it unsupported and the replay reads the log instead: exactness first.
 */
export class ViewColumns {
  readonly dir: string;
  private lockFile: string | null = null;
  private lastBeat = 0;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, VIEW_COLUMNS_DIR);
  }

  /**
   * Brings the files up to `upTo` (default: the head now) and, holding them against other catch-ups, hands
   * their view to `use`. Returns null without calling `use` when another catch-up holds them (the caller reads
   * the log instead, as it does when the result is not usable).
   */
  async withCaughtUp<T>(
    store: EventStore,
    upTo: LogPosition | undefined,
    use: (result: CatchUpResult) => Promise<T> | T,
    options: CatchUpOptions = {},
  ): Promise<T | null> {
    let release: (() => void) | null;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      release = this.lock();
    } catch (error) {
      // A data dir this process may only read (a read-only mount, another user's files): the log it is.
      if (READ_ONLY_CODES.has((error as NodeJS.ErrnoException).code ?? '')) return null;
      throw error;
    }
    if (!release) return null;
    try {
      const result = await this.catchUpLocked(store, upTo ?? (await store.headPosition()), options);
      return await use(result);
    } finally {
      release();
    }
  }

  /** Catches up and returns what was done (for the CLI's rebuild and the bench). */
  async catchUp(store: EventStore, upTo?: LogPosition, options: CatchUpOptions = {}): Promise<CatchUpResult> {
    const result = await this.withCaughtUp(store, upTo, (r) => r, options);
    if (result === null) throw new Error(`${this.dir} is being caught up by another process or thread`);
    return result;
  }

  /** Throws everything away: the next catch-up rebuilds from position zero. */
  discard(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * `sha256:<hex>` over what the projection says, ids written out (so it does not depend on the order ids were
   * interned in, which follows how the log was read in stretches): its position, then every ownership record
   * and every view record in log order. Equal for a projection kept up to date piece by piece and one rebuilt
   * from position zero over the same log.
   */
  digest(): string {
    const checkpoint = this.readCheckpoint() ?? emptyCheckpoint();
    const hash = createHash('sha256');
    hash.update(
      `${checkpoint.position.commit}/${checkpoint.position.prepare}/${checkpoint.unsupported ?? ''}\n`,
    );
    if (checkpoint.unsupported !== null) return `sha256:${hash.digest('hex')}`;
    const ids = checkpoint.ids === 0 ? [] : this.readIds(checkpoint);
    const id = (key: number): string => (key === NO_KEY ? '-' : JSON.stringify(ids[key]));
    const ownership = recordArrays(this.readWhole('ownership.bin', checkpoint));
    for (let i = 0; i < checkpoint.ownershipChanges; i++) {
      const { f64, u32, u8 } = ownership;
      hash.update(
        `o ${u8[i * 32 + 28]} ${f64[i * 4]} ${f64[i * 4 + 1]} ${id(u32[i * 8 + 4])} ${id(u32[i * 8 + 5])} ` +
          `${id(u32[i * 8 + 6])} ${u8[i * 32 + 29]}\n`,
      );
    }
    const views = recordArrays(this.readWhole('views.bin', checkpoint));
    const text = this.readWhole('view-text.bin', checkpoint);
    let at = 0;
    for (let i = 0; i < checkpoint.views; i++) {
      const { f64, u32, u16, u8 } = views;
      const eventIdBytes = u16[i * 12 + 8];
      const mediaIdBytes = u16[i * 12 + 9];
      hash.update(
        `v ${f64[i * 3]} ${id(u32[i * 6 + 2])} ${id(u32[i * 6 + 3])} ${u8[i * 24 + 20]} ${u8[i * 24 + 21]} ` +
          `${JSON.stringify(text.toString('utf8', at, at + eventIdBytes))} ` +
          `${JSON.stringify(text.toString('utf8', at + eventIdBytes, at + eventIdBytes + mediaIdBytes))}\n`,
      );
      at += eventIdBytes + mediaIdBytes;
    }
    return `sha256:${hash.digest('hex')}`;
  }

  /** The part of a file its checkpoint covers, in an 8-aligned buffer (for tests and digests: it is all read). */
  private readWhole(file: ColumnFile, checkpoint: StoredCheckpoint): Buffer {
    const length = checkpoint.lengths[file];
    const bytes = Buffer.allocUnsafeSlow(length);
    if (length === 0) return bytes;
    const fd = fs.openSync(path.join(this.dir, file), 'r');
    try {
      for (let done = 0; done < length;) {
        const n = fs.readSync(fd, bytes, done, length - done, done);
        if (n <= 0) throw new Error(`${file} is shorter than its checkpoint says`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return bytes;
  }

  private async catchUpLocked(
    store: EventStore,
    upTo: LogPosition,
    options: CatchUpOptions,
  ): Promise<CatchUpResult> {
    let discarded = false;
    let checkpoint = this.readCheckpoint();
    if (checkpoint !== null && !(await this.standsForLog(store, checkpoint))) checkpoint = null;
    if (checkpoint === null) {
      discarded = fs.existsSync(path.join(this.dir, CHECKPOINT_FILE));
      checkpoint = emptyCheckpoint();
      this.resetFiles();
      this.writeCheckpoint(checkpoint);
    } else {
      this.cutToCheckpoint(checkpoint);
    }
    if (os.endianness() !== 'LE') {
      return { usable: false, why: 'the records are little-endian and this machine is not', discarded };
    }
    const ids = new IdTable(checkpoint.ids === 0 ? [] : this.readIds(checkpoint));
    // The last event of the log now is at or after the caller's head; the files are brought up to it, and it
    // is the event the next catch-up checks is still there.
    const [last] = (await store.readAll({ from: 'end', direction: 'backwards', maxCount: 1 })).events;
    const from = toPosition(checkpoint.position);
    let eventsRead = 0;
    if (last !== undefined && comparePositions(last.position, upTo) < 0) {
      throw new Error('the log ends before the head the replay captured');
    }
    if (last !== undefined && comparePositions(from, last.position) < 0) {
      const writer = new StretchWriter(this.dir, checkpoint, ids);
      const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
      const progress = (count: number): void => {
        this.heartbeat();
        eventsRead += count;
        options.onProgress?.(eventsRead);
      };
      // The replay's own two reads of the log, each kept as records: ownership changes, then views.
      await scanData(
        store,
        from,
        last.position,
        OWNERSHIP_FILTER,
        pageSize,
        progress,
        (_ids, types, json) => {
          for (let i = 0; i < types.length && writer.unsupported === null; i++) {
            writer.guard(() => encodeOwnership(types[i], json[i], ids, writer.pending));
            writer.flushIfFull();
          }
        },
      );
      await scanData(
        store,
        from,
        last.position,
        VIEW_FILTER,
        pageSize,
        progress,
        (eventIds, _types, json) => {
          for (let i = 0; i < eventIds.length && writer.unsupported === null; i++) {
            writer.guard(() => encodeViewText(eventIds[i], json[i], ids, writer.pending));
            writer.flushIfFull();
          }
        },
      );
      checkpoint = writer.finish(last);
      this.writeCheckpoint(checkpoint);
    }
    if (checkpoint.unsupported !== null) return { usable: false, why: checkpoint.unsupported, discarded };
    return {
      usable: true,
      appended: eventsRead,
      discarded,
      view: {
        dir: this.dir,
        position: toPosition(checkpoint.position),
        ids: ids.ids,
        ownershipChanges: checkpoint.ownershipChanges,
        views: checkpoint.views,
        textBytes: checkpoint.lengths['view-text.bin'],
      },
    };
  }

  /** The checkpoint's last event is still at its stream revision and log position: the files are this log's. */
  private async standsForLog(store: EventStore, checkpoint: StoredCheckpoint): Promise<boolean> {
    if (checkpoint.format !== FORMAT) return false;
    if (checkpoint.last === null) return checkpoint.position.commit === START.commit.toString();
    const [event] = await store.readStream(checkpoint.last.stream, {
      fromRevision: BigInt(checkpoint.last.revision),
      maxCount: 1,
    });
    return (
      event !== undefined &&
      event.eventId === checkpoint.last.eventId &&
      comparePositions(event.position, toPosition(checkpoint.position)) === 0
    );
  }

  private readCheckpoint(): StoredCheckpoint | null {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir, CHECKPOINT_FILE), 'utf8');
    } catch {
      return null;
    }
    try {
      const parsed = JSON.parse(text) as StoredCheckpoint;
      for (const file of COLUMN_FILES) {
        const length = parsed.lengths?.[file];
        if (!Number.isSafeInteger(length) || length < 0) return null;
        const size = sizeOf(path.join(this.dir, file));
        // A file shorter than its checkpoint lost bytes it had made durable: not to be trusted.
        if (size < length) return null;
      }
      return parsed;
    } catch {
      return null;
    }
  }

  private writeCheckpoint(checkpoint: StoredCheckpoint): void {
    const file = path.join(this.dir, CHECKPOINT_FILE);
    const temp = `${file}.tmp`;
    const fd = fs.openSync(temp, 'w');
    try {
      fs.writeSync(fd, `${JSON.stringify(checkpoint)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    const dirFd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  }

  private resetFiles(): void {
    // Every file exists, empty at first, so a reader never has to tell "none yet" from "lost".
    for (const file of COLUMN_FILES) fs.writeFileSync(path.join(this.dir, file), '');
  }

  private cutToCheckpoint(checkpoint: StoredCheckpoint): void {
    for (const file of COLUMN_FILES) {
      const target = path.join(this.dir, file);
      if (sizeOf(target) > checkpoint.lengths[file]) fs.truncateSync(target, checkpoint.lengths[file]);
    }
  }

  private readIds(checkpoint: StoredCheckpoint): string[] {
    const length = checkpoint.lengths['ids.jsonl'];
    const bytes = Buffer.allocUnsafe(length);
    const fd = fs.openSync(path.join(this.dir, 'ids.jsonl'), 'r');
    try {
      for (let at = 0; at < length;) {
        const n = fs.readSync(fd, bytes, at, length - at, at);
        if (n <= 0) throw new Error('ids.jsonl is shorter than its checkpoint says');
        at += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    // JSON strings hold no raw newline, so the lines joined by commas are one JSON array.
    const text = bytes.toString('utf8');
    const ids = JSON.parse(`[${text.slice(0, -1).replaceAll('\n', ',')}]`) as string[];
    if (ids.length !== checkpoint.ids)
      throw new Error(`ids.jsonl holds ${ids.length} ids, not ${checkpoint.ids}`);
    return ids;
  }

  /** A lock file naming its holder; a holder that no longer runs leaves it stale, and it is taken over. */
  private lock(): (() => void) | null {
    const file = path.join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
        this.lockFile = file;
        return () => {
          this.lockFile = null;
          fs.rmSync(file, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        // A holder keeps the lock file's time fresh while it reads; a lock left by a process that is gone (kill -9)
        // or by a thread that was stopped mid-catch-up goes stale and is taken over.
        const holder = Number.parseInt(readOr(file, ''), 10);
        const fresh = Date.now() - mtimeOf(file) < LOCK_STALE_MS;
        const alive = Number.isInteger(holder) && (holder === process.pid || isRunning(holder));
        if (alive && fresh) return null;
        fs.rmSync(file, { force: true });
      }
    }
    return null;
  }

  /** Tells others the lock is still held (at most once a second). */
  private heartbeat(): void {
    if (this.lockFile === null || Date.now() - this.lastBeat < 1000) return;
    this.lastBeat = Date.now();
    const now = new Date();
    try {
      fs.utimesSync(this.lockFile, now, now);
    } catch {
      // The next beat tries again; a lock that goes stale only lets another catch-up start over.
    }
  }
}

function mtimeOf(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function idLines(ids: readonly string[]): Buffer {
  if (ids.length === 0) return Buffer.alloc(0);
  return Buffer.from(`${ids.map((id) => JSON.stringify(id)).join('\n')}\n`, 'utf8');
}

function ownershipBuffer(values: readonly number[]): Buffer {
  const count = values.length / 7;
  const records = allocRecords(OWNERSHIP_RECORD_BYTES, count);
  for (let i = 0; i < count; i++) {
    const v = i * 7;
    records.f64[i * 4] = values[v];
    records.f64[i * 4 + 1] = values[v + 1];
    records.u32[i * 8 + 4] = values[v + 2];
    records.u32[i * 8 + 5] = values[v + 3];
    records.u32[i * 8 + 6] = values[v + 4];
    records.u8[i * 32 + 28] = values[v + 5];
    records.u8[i * 32 + 29] = values[v + 6];
  }
  return records.bytes;
}

function viewBuffer(values: readonly number[]): Buffer {
  const count = values.length / 7;
  const records = allocRecords(VIEW_RECORD_BYTES, count);
  for (let i = 0; i < count; i++) {
    const v = i * 7;
    records.f64[i * 3] = values[v];
    records.u32[i * 6 + 2] = values[v + 1];
    records.u32[i * 6 + 3] = values[v + 2];
    records.u16[i * 12 + 8] = values[v + 3];
    records.u16[i * 12 + 9] = values[v + 4];
    records.u8[i * 24 + 20] = values[v + 5];
    records.u8[i * 24 + 21] = values[v + 6];
  }
  return records.bytes;
}

const keyOrNone = (key: number): number => (key < 0 ? NO_KEY : key);

/** A device event of a `device-` stream into a record, as the replay's ownership pass reads it. */
function encodeOwnership(type: string, json: string, ids: IdTable, pending: PendingRecords): void {
  if (!isDeviceEventType(type)) return;
  const change = toDeviceEvent({ type, data: JSON.parse(json) as JsonObject });
  if (!change) return;
  const device = ids.keyFor(change.data.deviceId);
  if (change.type === 'DeviceRegistered') {
    const at = Date.parse(change.data.occurredAt);
    if (Number.isNaN(at))
      throw new NotColumnar(`a ${type} of ${change.data.deviceId}: occurredAt does not parse`);
    pending.ownership.push(at, Infinity, device, ids.keyFor(change.data.ownerId), NO_KEY, REGISTERED_KIND, 0);
    return;
  }
  let packed;
  try {
    packed = toPackedChange(change, ids);
  } catch (error) {
    throw new NotColumnar(
      `a ${type} of ${change.data.deviceId}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  pending.ownership.push(
    packed.at,
    packed.expiresAt,
    device,
    keyOrNone(packed.user),
    keyOrNone(packed.previousOwner),
    packed.kind,
    packed.keepViewers ? 1 : 0,
  );
}

const viewKeys = emptyViewKeys();

/** A view's text into a record, read off the text as the replay's views pass reads it. */
function encodeViewText(eventId: string, json: string, ids: IdTable, pending: PendingRecords): void {
  if (readViewKeys(json, viewKeys)) {
    encodeView(eventId, viewKeys as unknown as JsonObject, ids, pending);
    return;
  }
  encodeView(eventId, JSON.parse(json) as JsonObject, ids, pending);
}

function encodeView(eventId: string, data: JsonObject, ids: IdTable, pending: PendingRecords): void {
  const { viewerId, deviceId, occurredAt, mediaId, mediaType, action } = data;
  if (
    typeof viewerId !== 'string' ||
    typeof deviceId !== 'string' ||
    typeof occurredAt !== 'string' ||
    typeof mediaId !== 'string' ||
    typeof mediaType !== 'string' ||
    typeof action !== 'string'
  ) {
    throw new NotColumnar(`view ${eventId}: a field the replay reads is missing or not a string`);
  }
  const mediaTypeCode = MEDIA_TYPE_CODES.get(mediaType);
  const actionCode = ACTION_CODES.get(action);
  if (mediaTypeCode === undefined || actionCode === undefined) {
    throw new NotColumnar(`view ${eventId}: mediaType or action is not one the contract names`);
  }
  const eventIdBytes = Buffer.byteLength(eventId, 'utf8');
  const mediaIdBytes = Buffer.byteLength(mediaId, 'utf8');
  if (eventIdBytes > MAX_TEXT_BYTES || mediaIdBytes > MAX_TEXT_BYTES) {
    throw new NotColumnar(`view ${eventId}: eventId or mediaId is too long for a record`);
  }
  pending.views.push(
    parseViewTime(occurredAt),
    ids.keyFor(deviceId),
    ids.keyFor(viewerId),
    eventIdBytes,
    mediaIdBytes,
    mediaTypeCode,
    actionCode,
  );
  pending.text.push(eventId, mediaId);
}

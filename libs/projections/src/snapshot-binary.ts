import * as fs from 'node:fs';
import * as os from 'node:os';
import type { IdempotencyCapture, IdempotencyIndex, IdempotencySnapshotRow } from './idempotency.index';
import type { RelationshipTable, RelationshipTableCapture } from './relationship-table.projection';

/**
 * The body of a format-2 snapshot, after its JSON header line: a run of blocks, each `[u32 kind][u32 payload
 * bytes][payload]`, little-endian. The table is written as it is held — the id tables in key order and every
 * device's packed timeline as raw doubles — so a restart keeps the blocks' buffers instead of parsing text
 * (see `RelationshipTable.restoreStored`), and the restored table is the captured one key for key and span for
 * span. Ids are written as UTF-8, which holds any well-formed string (ids are ASCII by contract).
 *
 *   users        u32 count, u32 UTF-16 length of each id, i32 hash of each id (`ID_HASH`), the ids' UTF-8 bytes
 *   devices      the same, for device ids
 *   timelines    u32 count, u32 length of each timeline, padding to 8 bytes, the timelines' doubles
 *   idempotency  UTF-8 JSON array of {@link IdempotencySnapshotRow}
 *   end          empty
 *
 * Blocks come in that order (users first: timelines refer to their keys) and hold about
 * {@link BLOCK_TARGET_BYTES} each, which is both the writer's step between turns of the event loop and the
 * reader's step between reads.
 */
export const BlockKind = { Users: 1, Devices: 2, Timelines: 3, Idempotency: 4, End: 5 } as const;
type BlockKind = (typeof BlockKind)[keyof typeof BlockKind];

const BLOCK_HEADER_BYTES = 8;
export const BLOCK_TARGET_BYTES = 1 << 20;
/** A forged length must not make the reader allocate without bound: no writer makes a block this large. */
const MAX_BLOCK_BYTES = 1 << 30;

function assertLittleEndian(): void {
  // The doubles and lengths are copied through typed arrays, which use the host's byte order.
  if (os.endianness() !== 'LE') throw new Error('binary projection snapshots need a little-endian host');
}

/** The body's blocks, each encoded from the capture when asked for: one block of work per step. */
export function* encodeBinaryBody(
  table: RelationshipTableCapture,
  idempotency: IdempotencyCapture,
): Generator<Buffer> {
  assertLittleEndian();
  yield* idBlocks(BlockKind.Users, table.userCount, table.userId, table.userIdHash);
  yield* idBlocks(BlockKind.Devices, table.deviceCount, table.deviceId, table.deviceIdHash);
  yield* timelineBlocks(table);
  yield* idempotencyBlocks(idempotency);
  yield blockOf(BlockKind.End, 0);
}

function blockOf(kind: BlockKind, payloadBytes: number): Buffer {
  // Not from the shared pool: byteOffset 0 keeps the payload's doubles 8-byte aligned for a Float64Array.
  const block = Buffer.allocUnsafeSlow(BLOCK_HEADER_BYTES + payloadBytes);
  block.writeUInt32LE(kind, 0);
  block.writeUInt32LE(payloadBytes, 4);
  return block;
}

function* idBlocks(
  kind: BlockKind,
  count: number,
  idOf: (key: number) => string,
  hashOf: (key: number) => number,
): Generator<Buffer> {
  for (let from = 0; from < count;) {
    const ids: string[] = [];
    let chars = 0;
    while (from + ids.length < count && (ids.length === 0 || chars < BLOCK_TARGET_BYTES / 2)) {
      const id = idOf(from + ids.length);
      ids.push(id);
      chars += id.length;
    }
    const text = ids.join('');
    const tablesBytes = 4 + 8 * ids.length;
    const block = blockOf(kind, tablesBytes + Buffer.byteLength(text, 'utf8'));
    block.writeUInt32LE(ids.length, BLOCK_HEADER_BYTES);
    const lengths = new Uint32Array(block.buffer, BLOCK_HEADER_BYTES + 4, ids.length);
    const hashes = new Int32Array(block.buffer, BLOCK_HEADER_BYTES + 4 + 4 * ids.length, ids.length);
    for (let i = 0; i < ids.length; i++) {
      lengths[i] = ids[i].length;
      hashes[i] = hashOf(from + i);
    }
    block.write(text, BLOCK_HEADER_BYTES + tablesBytes, 'utf8');
    yield block;
    from += ids.length;
  }
}

function* timelineBlocks(table: RelationshipTableCapture): Generator<Buffer> {
  const count = table.deviceCount;
  for (let from = 0; from < count;) {
    let to = from;
    let doubles = 0;
    while (to < count && (to === from || doubles * 8 < BLOCK_TARGET_BYTES))
      doubles += table.timeline(to++).length;
    const devices = to - from;
    const lengthsBytes = paddedTo8(4 + 4 * devices);
    const block = blockOf(BlockKind.Timelines, lengthsBytes + 8 * doubles);
    block.writeUInt32LE(devices, BLOCK_HEADER_BYTES);
    const lengths = new Uint32Array(block.buffer, BLOCK_HEADER_BYTES + 4, devices);
    const values = new Float64Array(block.buffer, BLOCK_HEADER_BYTES + lengthsBytes, doubles);
    for (let key = from, at = 0; key < to; key++) {
      const p = table.timeline(key);
      lengths[key - from] = p.length;
      values.set(p, at);
      at += p.length;
    }
    yield block;
    from = to;
  }
}

function* idempotencyBlocks(idempotency: IdempotencyCapture): Generator<Buffer> {
  for (let from = 0; from < idempotency.size;) {
    const rows: IdempotencySnapshotRow[] = [];
    let chars = 0;
    while (from + rows.length < idempotency.size && (rows.length === 0 || chars < BLOCK_TARGET_BYTES / 2)) {
      const row = idempotency.row(from + rows.length);
      rows.push(row);
      chars += row[0].length + row[1].length + row[3].length + 64;
    }
    const text = JSON.stringify(rows);
    const block = blockOf(BlockKind.Idempotency, Buffer.byteLength(text, 'utf8'));
    block.write(text, BLOCK_HEADER_BYTES, 'utf8');
    yield block;
    from += rows.length;
  }
}

function paddedTo8(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}

/** What the header says the body holds; the reader checks the blocks against it. */
export interface BinaryBodyCounts {
  readonly users: number;
  readonly devices: number;
  readonly idempotencyKeys: number;
}

/**
 * Restores a format-2 body, from byte `from` up to `bodyBytes` (the newline before the trailer), into empty
 * read models, feeding every byte to `hash`. Returns what is wrong with the content, or null; either way the
 * whole range has gone through `hash`, so the caller's trailer verdict comes first.
 */
export function readBinaryBody(
  fd: number,
  from: number,
  bodyBytes: number,
  hash: { update(data: Buffer): unknown },
  counts: BinaryBodyCounts,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
): string | null {
  assertLittleEndian();
  const reader = new BlockReader(fd, from, bodyBytes, hash);
  let problem: string | null = null;
  try {
    // An id takes at least its length and hash in the file: a forged count cannot reserve beyond that.
    const mostIds = Math.floor(bodyBytes / 8);
    table.reserve(Math.min(counts.users, mostIds), Math.min(counts.devices, mostIds));
    problem = restoreBlocks(reader, counts, table, idempotency);
  } catch (error) {
    problem = `unreadable content: ${(error as Error).message}`;
  }
  reader.hashRest();
  return problem;
}

function restoreBlocks(
  reader: BlockReader,
  counts: BinaryBodyCounts,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
): string | null {
  let rows = 0;
  let previous: BlockKind = BlockKind.Users;
  for (;;) {
    const block = reader.next(BlockKind.Timelines);
    if (block === null) return 'unreadable content: the blocks run past the end of the body';
    if (block.kind < previous || block.kind > BlockKind.End) {
      return `unreadable content: block of kind ${block.kind} out of order`;
    }
    previous = block.kind as BlockKind;
    switch (block.kind) {
      case BlockKind.Users: {
        const { text, starts, hashes } = decodeIds(block.payload);
        table.restoreUserIds(text, starts, hashes);
        break;
      }
      case BlockKind.Devices: {
        const { text, starts, hashes } = decodeIds(block.payload);
        table.restoreDeviceIds(text, starts, hashes);
        break;
      }
      case BlockKind.Timelines: {
        const { starts, values } = decodeTimelines(block.payload);
        table.restoreStored(starts, values);
        break;
      }
      case BlockKind.Idempotency: {
        const parsed = JSON.parse(block.payload.toString('utf8')) as IdempotencySnapshotRow[];
        if (!Array.isArray(parsed)) return 'unreadable content: idempotency block is not a list';
        for (const row of parsed) {
          if (!Array.isArray(row)) return 'unreadable content: an idempotency row is not a list';
          idempotency.restoreRow(row);
        }
        rows += parsed.length;
        break;
      }
      case BlockKind.End: {
        const restored = {
          users: table.userCount,
          devices: table.deviceCount,
          timelines: table.restoredTimelines,
        };
        if (
          restored.users !== counts.users ||
          restored.devices !== counts.devices ||
          restored.timelines !== counts.devices
        ) {
          return `unreadable content: ${restored.users} users, ${restored.devices} devices and ${restored.timelines} timelines, the header says ${counts.users} users and ${counts.devices} devices`;
        }
        if (rows !== counts.idempotencyKeys) {
          return `unreadable content: ${rows} idempotency keys, the header says ${counts.idempotencyKeys}`;
        }
        return reader.atBodyEnd() ? null : 'unreadable content: bytes after the end block';
      }
    }
  }
}

/** An id block: the ids' text (decoded once for the block), where each starts in it, and their hashes. */
function decodeIds(payload: Buffer): { text: string; starts: Uint32Array; hashes: Int32Array } {
  if (payload.length < 4) throw new Error('an id block is shorter than its count');
  const count = payload.readUInt32LE(0);
  const tablesBytes = 4 + 8 * count;
  if (tablesBytes > payload.length) throw new Error('an id block is shorter than its lengths and hashes');
  const lengths = new Uint32Array(payload.buffer, payload.byteOffset + 4, count);
  // Copied: the payload is the reader's reused buffer.
  const hashes = new Int32Array(payload.buffer, payload.byteOffset + 4 + 4 * count, count).slice();
  const text = payload.toString('utf8', tablesBytes);
  const starts = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) starts[i + 1] = starts[i] + lengths[i];
  if (starts[count] !== text.length) throw new Error('an id block’s lengths do not add up to its text');
  return { text, starts, hashes };
}

/** A timeline block: where each device's timeline starts in its doubles, and the doubles. */
function decodeTimelines(payload: Buffer): { starts: Uint32Array; values: Float64Array } {
  if (payload.length < 4) throw new Error('a timeline block is shorter than its count');
  const count = payload.readUInt32LE(0);
  const lengthsBytes = paddedTo8(4 + 4 * count);
  if (lengthsBytes > payload.length) throw new Error('a timeline block is shorter than its lengths');
  const lengths = new Uint32Array(payload.buffer, payload.byteOffset + 4, count);
  const starts = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) starts[i + 1] = starts[i] + lengths[i];
  const doubles = (payload.length - lengthsBytes) / 8;
  if (starts[count] !== doubles) throw new Error('a timeline block’s lengths do not add up to its values');
  // The table keeps these doubles as they are: the payload is this block's own buffer, not the reused one.
  return { starts, values: new Float64Array(payload.buffer, payload.byteOffset + lengthsBytes, doubles) };
}

/** Reads blocks one at a time into one reused, 8-byte-aligned buffer, hashing every byte it reads. */
class BlockReader {
  private buffer = Buffer.allocUnsafeSlow(BLOCK_TARGET_BYTES + 4096);
  private readonly header = Buffer.alloc(BLOCK_HEADER_BYTES);

  constructor(
    private readonly fd: number,
    private offset: number,
    /** The body ends with a newline at `bodyBytes - 1`; blocks end before it. */
    private readonly bodyBytes: number,
    private readonly hash: { update(data: Buffer): unknown },
  ) {}

  /** The next block; its payload is in the reused buffer, unless it is one the caller keeps (`kept`). */
  next(kept: number): { kind: number; payload: Buffer } | null {
    if (this.offset + BLOCK_HEADER_BYTES > this.bodyBytes - 1) return null;
    this.read(this.header);
    const kind = this.header.readUInt32LE(0);
    const length = this.header.readUInt32LE(4);
    if (length > MAX_BLOCK_BYTES || this.offset + length > this.bodyBytes - 1) return null;
    let payload: Buffer;
    if (kind === kept) payload = Buffer.allocUnsafeSlow(length);
    else {
      if (this.buffer.length < length) this.buffer = Buffer.allocUnsafeSlow(length);
      payload = this.buffer.subarray(0, length);
    }
    this.read(payload);
    return { kind, payload };
  }

  atBodyEnd(): boolean {
    return this.offset === this.bodyBytes - 1;
  }

  /** Hashes what was not read as blocks (the final newline, or all that follows a bad block). */
  hashRest(): void {
    while (this.offset < this.bodyBytes) {
      const step = this.buffer.subarray(0, Math.min(this.buffer.length, this.bodyBytes - this.offset));
      this.read(step);
    }
  }

  private read(target: Buffer): void {
    for (let done = 0; done < target.length;) {
      const read = fs.readSync(this.fd, target, done, target.length - done, this.offset + done);
      if (read === 0) throw new Error('snapshot file shrank while it was read');
      done += read;
    }
    this.offset += target.length;
    this.hash.update(target);
  }
}

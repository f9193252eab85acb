import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogPosition } from '@ledger/event-store';
import type { IdempotencyCapture, IdempotencyIndex } from './idempotency.index';
import type { RelationshipTable, RelationshipTableCapture } from './relationship-table.projection';
import { ID_HASH } from './interned-ids';
import { encodeBinaryBody, readBinaryBody } from './snapshot-binary';
import { readJsonLinesBody } from './snapshot-json-lines';

export const SNAPSHOT_FILE = 'relationships.snapshot';
/** What this version writes: a JSON header line, then the table in binary blocks (see snapshot-binary.ts). */
export const SNAPSHOT_FORMAT = 'ledger-projection-snapshot/2';
/** JSON lines, written by versions before the binary format: still read, never written. */
const JSON_LINES_FORMAT = 'ledger-projection-snapshot/1';
/** Trailer of a snapshot authenticated with a key from outside the data dir; a bare hex trailer is a checksum. */
const HMAC_TRAILER = 'hmac-sha256:';

/**
 * The key that authenticates snapshots, derived from a secret the operator supplies (LEDGER_EXPORT_KEY from
 * the environment). A key kept in the data dir would be given away by the very files it is meant to protect.
 */
export function deriveSnapshotKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'ledger', 'projection snapshot authentication', 32));
}

/**
 * The last event a snapshot applied. On load it must still be in the log at the same place, or the snapshot
 * belongs to another log (replaced, restored from a backup and written to since) and is discarded.
 */
export interface SnapshotAnchor {
  readonly stream: string;
  readonly revision: string;
  readonly eventId: string;
  readonly commit: string;
  readonly prepare: string;
}

export function snapshotAnchorOf(event: {
  readonly stream: string;
  readonly revision: bigint;
  readonly eventId: string;
  readonly position: LogPosition;
}): SnapshotAnchor {
  return {
    stream: event.stream,
    revision: event.revision.toString(),
    eventId: event.eventId,
    commit: event.position.commit.toString(),
    prepare: event.position.prepare.toString(),
  };
}

export interface SnapshotHeader {
  readonly format: string;
  readonly store: string;
  readonly commit: string;
  readonly prepare: string;
  readonly devices: number;
  /** Users in the id table (format 2; format 1 names users in each device's line). */
  readonly users?: number;
  /** The hash the ids are filed under (format 2), which the id blocks carry. */
  readonly idHash?: string;
  readonly idempotencyKeys: number;
  readonly writtenAt: string;
  /** Absent in snapshots written without one (older versions): only the head check applies to those. */
  readonly anchor?: SnapshotAnchor;
}

/**
 * The read models and their position at one moment, held still for a snapshot written while the projection
 * goes on applying events: the table copies a device's array before changing one the capture holds, and
 * idempotency entries are immutable. Taking one costs pointer copies; release it once written.
 */
export interface ProjectionCapture {
  readonly position: LogPosition;
  readonly anchor: SnapshotAnchor | null;
  readonly table: RelationshipTableCapture;
  readonly idempotency: IdempotencyCapture;
  release(): void;
}

export function captureProjection(
  position: LogPosition,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
  anchor: SnapshotAnchor | null,
): ProjectionCapture {
  const tableCapture = table.capture();
  return {
    position,
    anchor,
    table: tableCapture,
    idempotency: idempotency.capture(),
    release: () => tableCapture.release(),
  };
}

/**
 * Writes the projection as it is now to `<dir>/relationships.snapshot` (see {@link writeCapturedSnapshot}).
 * Events applied to `table` while the write runs are not in the file.
 */
export async function writeSnapshot(
  dir: string,
  storeName: string,
  position: LogPosition,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
  anchor: SnapshotAnchor | null = null,
  key: Buffer | null = null,
): Promise<string> {
  const capture = captureProjection(position, table, idempotency, anchor);
  try {
    return await writeCapturedSnapshot(dir, storeName, capture, key);
  } finally {
    capture.release();
  }
}

/**
 * Writes a captured projection to `<dir>/relationships.snapshot`: a JSON header line, the binary body, a
 * newline, then an HMAC-SHA256 of everything before it under `key` (or, without a key, a sha256 checksum).
 * The body is encoded a block (about 1 MB) at a time with an asynchronous write after each, so the event
 * loop serves checks and appends between blocks however large the table. Written to a temp file, fsynced,
 * renamed and the directory fsynced, so a crash leaves either the old snapshot or the new one; a torn file
 * fails its trailer and is discarded.
 */
export async function writeCapturedSnapshot(
  dir: string,
  storeName: string,
  capture: ProjectionCapture,
  key: Buffer | null = null,
): Promise<string> {
  await fs.promises.mkdir(dir, { recursive: true });
  const file = path.join(dir, SNAPSHOT_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  const hash = key ? createHmac('sha256', key) : createHash('sha256');
  try {
    const handle = await fs.promises.open(temp, 'w', 0o600);
    try {
      const header: SnapshotHeader = {
        format: SNAPSHOT_FORMAT,
        store: storeName,
        commit: capture.position.commit.toString(),
        prepare: capture.position.prepare.toString(),
        devices: capture.table.deviceCount,
        users: capture.table.userCount,
        idHash: ID_HASH,
        idempotencyKeys: capture.idempotency.size,
        writtenAt: new Date().toISOString(),
        ...(capture.anchor ? { anchor: capture.anchor } : {}),
      };
      const write = async (bytes: Buffer): Promise<void> => {
        hash.update(bytes);
        await writeFully(handle, bytes);
      };
      await write(Buffer.from(`${JSON.stringify(header)}\n`, 'utf8'));
      for (const block of encodeBinaryBody(capture.table, capture.idempotency)) await write(block);
      await write(Buffer.from('\n'));
      await writeFully(handle, Buffer.from(`#${key ? HMAC_TRAILER : ''}${hash.digest('hex')}\n`, 'latin1'));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temp, file);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
  const dirHandle = await fs.promises.open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
  return file;
}

async function writeFully(handle: fs.promises.FileHandle, bytes: Buffer): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, null);
    done += bytesWritten;
  }
}

export type SnapshotLoadResult =
  | {
      readonly kind: 'loaded';
      readonly position: LogPosition;
      readonly header: SnapshotHeader;
      /**
       * True when its HMAC verified under the caller's key. A checksum proves only that the file is whole:
       * anyone who can write the data dir can recompute it, so such a snapshot must be checked against the log.
       */
      readonly authenticated: boolean;
    }
  | { readonly kind: 'absent' }
  | { readonly kind: 'discarded'; readonly why: string };

/** The trailer line is short (`#hmac-sha256:` and 64 hex digits); the tail read to find it is longer. */
const TRAILER_WINDOW = 256;
/** Bytes read per step of a format-1 body. A 10M-relationship one (~750 MB) is more than one string holds. */
const READ_CHUNK = 4 << 20;
/** The header line is a few hundred bytes; one longer than this is not a header. */
const MAX_HEADER_BYTES = 64 << 10;
const NEWLINE = 0x0a;

export interface SnapshotLoadOptions {
  /** Bytes read per step of a format-1 body; small values exist so tests can cut lines across reads. */
  readonly chunkBytes?: number;
}

/**
 * Loads a snapshot into empty read models if it is intact and belongs to this store; otherwise says why not.
 * With a `key`, an HMAC trailer must verify under it; a checksum trailer is accepted as whole but not
 * authenticated (the caller verifies it against the log). Reads both formats: the binary one this version
 * writes and the JSON lines of older versions.
 *
 * The file is read once, in steps: what is read is restored while the body is hashed, and the verdict comes
 * at the end. So a `discarded` result may leave the read models holding part of the file: the caller resets
 * them, as it does for every discarded snapshot.
 */
export function loadSnapshot(
  dir: string,
  storeName: string,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
  key: Buffer | null = null,
  options: SnapshotLoadOptions = {},
): SnapshotLoadResult {
  const file = path.join(dir, SNAPSHOT_FILE);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'discarded', why: `unreadable: ${(error as Error).message}` };
  }
  try {
    return readSnapshot(fd, storeName, table, idempotency, key, options.chunkBytes ?? READ_CHUNK);
  } catch (error) {
    return { kind: 'discarded', why: `unreadable: ${(error as Error).message}` };
  } finally {
    fs.closeSync(fd);
  }
}

function readSnapshot(
  fd: number,
  storeName: string,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
  key: Buffer | null,
  chunkBytes: number,
): SnapshotLoadResult {
  const size = fs.fstatSync(fd).size;
  const trailerLine = readTrailer(fd, size);
  if (trailerLine === null) return { kind: 'discarded', why: 'torn: no checksum line' };
  const { bodyBytes, trailer } = trailerLine;
  const authenticated = trailer.startsWith(HMAC_TRAILER);
  if (authenticated && !key) {
    return { kind: 'discarded', why: 'authenticated with a key this service was not given' };
  }
  const hash = authenticated ? createHmac('sha256', key as Buffer) : createHash('sha256');
  // What is wrong with the content is only reported once the trailer vouches for it: a file that fails its
  // trailer is torn or forged, whatever its bytes look like. So every byte of the body is hashed, whatever
  // the reader makes of them.
  const { header, headerBytes } = readHeader(fd, bodyBytes);
  const bytes = headerBytes ?? 0;
  const headerChunk = Buffer.alloc(bytes);
  readFully(fd, headerChunk, 0);
  hash.update(headerChunk);
  let contentProblem: string | null = null;
  if (header === null) {
    contentProblem = 'unreadable header';
    hashRange(fd, bytes, bodyBytes, hash);
  } else if (header.format === SNAPSHOT_FORMAT && header.idHash !== ID_HASH) {
    contentProblem = `ids filed under hash ${String(header.idHash)}, which this version does not use`;
    hashRange(fd, bytes, bodyBytes, hash);
  } else if (header.format === SNAPSHOT_FORMAT) {
    contentProblem = readBinaryBody(fd, bytes, bodyBytes, hash, binaryCounts(header), table, idempotency);
  } else if (header.format === JSON_LINES_FORMAT) {
    contentProblem = readJsonLinesBody(fd, bytes, bodyBytes, chunkBytes, hash, table, idempotency);
  } else {
    contentProblem = `unknown format ${String(header.format)}`;
    hashRange(fd, bytes, bodyBytes, hash);
  }
  const digest = hash.digest();
  if (authenticated) {
    const given = Buffer.from(trailer.slice(HMAC_TRAILER.length), 'hex');
    if (given.length !== digest.length || !timingSafeEqual(given, digest)) {
      return { kind: 'discarded', why: 'torn, edited or forged: authentication failed' };
    }
  } else if (digest.toString('hex') !== trailer) {
    return { kind: 'discarded', why: 'torn or edited: checksum mismatch' };
  }
  if (contentProblem !== null) return { kind: 'discarded', why: contentProblem };
  const verified = header as SnapshotHeader;
  if (verified.store !== storeName) {
    return { kind: 'discarded', why: `written for store ${verified.store}, not ${storeName}` };
  }
  return {
    kind: 'loaded',
    position: { commit: BigInt(verified.commit), prepare: BigInt(verified.prepare) },
    header: verified,
    authenticated,
  };
}

/** The header line and its length with its newline; a null header when the first line is not one. */
function readHeader(
  fd: number,
  bodyBytes: number,
): { header: SnapshotHeader | null; headerBytes: number | null } {
  const start = Buffer.alloc(Math.min(bodyBytes, MAX_HEADER_BYTES));
  readFully(fd, start, 0);
  const newlineAt = start.indexOf(NEWLINE);
  if (newlineAt < 0) return { header: null, headerBytes: null };
  try {
    const header = JSON.parse(start.toString('utf8', 0, newlineAt)) as SnapshotHeader;
    if (header === null || typeof header !== 'object') return { header: null, headerBytes: newlineAt + 1 };
    return { header, headerBytes: newlineAt + 1 };
  } catch {
    return { header: null, headerBytes: newlineAt + 1 };
  }
}

function binaryCounts(header: SnapshotHeader): { users: number; devices: number; idempotencyKeys: number } {
  return {
    users: header.users ?? -1,
    devices: header.devices,
    idempotencyKeys: header.idempotencyKeys,
  };
}

/** The last line, if it is a trailer (`#…` after a newline, and the file ends with a newline). */
function readTrailer(fd: number, size: number): { bodyBytes: number; trailer: string } | null {
  const tailStart = Math.max(0, size - TRAILER_WINDOW);
  const tail = Buffer.alloc(size - tailStart);
  readFully(fd, tail, tailStart);
  if (tail.length < 2 || tail[tail.length - 1] !== NEWLINE) return null;
  const newlineAt = tail.lastIndexOf(NEWLINE, tail.length - 2);
  if (newlineAt < 0 || tail[newlineAt + 1] !== 0x23 /* '#' */) return null;
  return {
    bodyBytes: tailStart + newlineAt + 1,
    trailer: tail.toString('latin1', newlineAt + 2, tail.length - 1),
  };
}

function hashRange(fd: number, from: number, to: number, hash: { update(data: Buffer): unknown }): void {
  const chunk = Buffer.alloc(Math.max(1, Math.min(READ_CHUNK, to - from)));
  for (let offset = from; offset < to;) {
    const step = chunk.subarray(0, Math.min(chunk.length, to - offset));
    readFully(fd, step, offset);
    hash.update(step);
    offset += step.length;
  }
}

function readFully(fd: number, target: Buffer, position: number): void {
  for (let done = 0; done < target.length;) {
    const read = fs.readSync(fd, target, done, target.length - done, position + done);
    if (read === 0) throw new Error('snapshot file shrank while it was read');
    done += read;
  }
}

export function removeSnapshot(dir: string): void {
  fs.rmSync(path.join(dir, SNAPSHOT_FILE), { force: true });
}

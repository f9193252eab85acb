import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogPosition } from '@ledger/event-store';
import type { IdempotencyIndex } from './idempotency.index';
import type { RelationshipTable, SerializedDevice } from './relationship-table.projection';

export const SNAPSHOT_FILE = 'relationships.snapshot';
const FORMAT = 'ledger-projection-snapshot/1';
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
  readonly idempotencyKeys: number;
  readonly writtenAt: string;
  /** Absent in snapshots written without one (older versions): only the head check applies to those. */
  readonly anchor?: SnapshotAnchor;
}

/**
 * Writes the projection to `<dir>/relationships.snapshot`: a header line, one line per device and per
 * idempotency key, then an HMAC-SHA256 of everything before it under `key` (or, without a key, a sha256
 * checksum). Written to a temp file, fsynced and renamed, so a crash leaves either the old snapshot or the new
 * one; a torn file fails its trailer and is discarded.
 */
export function writeSnapshot(
  dir: string,
  storeName: string,
  position: LogPosition,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
  anchor: SnapshotAnchor | null = null,
  key: Buffer | null = null,
): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, SNAPSHOT_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  const hash = key ? createHmac('sha256', key) : createHash('sha256');
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    let buffer = '';
    const write = (line: string): void => {
      buffer += line + '\n';
      if (buffer.length > 1 << 20) flush();
    };
    const flush = (): void => {
      hash.update(buffer);
      fs.writeSync(fd, buffer);
      buffer = '';
    };
    const header: SnapshotHeader = {
      format: FORMAT,
      store: storeName,
      commit: position.commit.toString(),
      prepare: position.prepare.toString(),
      devices: table.deviceCount,
      idempotencyKeys: idempotency.size,
      writtenAt: new Date().toISOString(),
      ...(anchor ? { anchor } : {}),
    };
    write(JSON.stringify(header));
    for (const device of table.serialize()) write('D' + JSON.stringify(device));
    for (const entry of idempotency.serialize()) write('I' + JSON.stringify(entry));
    flush();
    fs.writeSync(fd, `#${key ? HMAC_TRAILER : ''}${hash.digest('hex')}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
  return file;
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
/** Bytes read per step. A snapshot of 10M relationships (~750 MB) is more than one string can hold. */
const READ_CHUNK = 4 << 20;
const NEWLINE = 0x0a;

export interface SnapshotLoadOptions {
  /** Bytes read per step; small values exist so tests can cut lines across reads. */
  readonly chunkBytes?: number;
}

/**
 * Loads a snapshot into empty read models if it is intact and belongs to this store; otherwise says why not.
 * With a `key`, an HMAC trailer must verify under it; a checksum trailer is accepted as whole but not
 * authenticated (the caller verifies it against the log).
 *
 * The file is read once, in chunks: each line is restored as it is read while the body is hashed, and the
 * verdict comes at the end. So a `discarded` result may leave the read models holding part of the file: the
 * caller resets them, as it does for every discarded snapshot.
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
  // trailer is torn or forged, whatever its lines look like.
  let header: SnapshotHeader | null = null;
  let contentProblem: string | null = null;
  const onLine = (line: string): void => {
    if (contentProblem !== null) return;
    if (header === null) {
      try {
        header = JSON.parse(line) as SnapshotHeader;
      } catch {
        contentProblem = 'unreadable header';
        return;
      }
      if (header.format !== FORMAT) contentProblem = `unknown format ${String(header.format)}`;
      else if (header.store !== storeName) {
        contentProblem = `written for store ${header.store}, not ${storeName}`;
      }
      return;
    }
    if (line.length === 0) return;
    try {
      if (line[0] === 'D') table.restore(JSON.parse(line.slice(1)) as SerializedDevice);
      else if (line[0] === 'I') {
        const [scope, entry] = JSON.parse(line.slice(1)) as [
          string,
          Parameters<IdempotencyIndex['restore']>[1],
        ];
        idempotency.restore(scope, entry);
      }
    } catch (error) {
      // Whole by its trailer yet not what a writer produces: edited with the trailer recomputed.
      contentProblem = `unreadable content: ${(error as Error).message}`;
    }
  };
  forEachLine(fd, bodyBytes, chunkBytes, hash, onLine);
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
  const verified = header as SnapshotHeader | null;
  if (verified === null) return { kind: 'discarded', why: 'unreadable header' };
  return {
    kind: 'loaded',
    position: { commit: BigInt(verified.commit), prepare: BigInt(verified.prepare) },
    header: verified,
    authenticated,
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

/** Feeds the first `bodyBytes` bytes to `hash` and hands over each line, decoded, without its newline. */
function forEachLine(
  fd: number,
  bodyBytes: number,
  chunkBytes: number,
  hash: { update(data: Buffer): unknown },
  onLine: (line: string) => void,
): void {
  const chunk = Buffer.alloc(Math.max(1, Math.min(chunkBytes, bodyBytes)));
  // A line cut by a read is carried over as bytes: the cut may fall inside a multi-byte UTF-8 character.
  let carried: Buffer = Buffer.alloc(0);
  for (let offset = 0; offset < bodyBytes; ) {
    const length = Math.min(chunk.length, bodyBytes - offset);
    const read = fs.readSync(fd, chunk, 0, length, offset);
    if (read === 0) throw new Error('snapshot file shrank while it was read');
    offset += read;
    const bytes = chunk.subarray(0, read);
    hash.update(bytes);
    const lastNewline = bytes.lastIndexOf(NEWLINE);
    if (lastNewline < 0) {
      carried = Buffer.concat([carried, bytes]);
      continue;
    }
    const text =
      carried.length > 0
        ? Buffer.concat([carried, bytes.subarray(0, lastNewline)]).toString('utf8')
        : bytes.toString('utf8', 0, lastNewline);
    carried = Buffer.from(bytes.subarray(lastNewline + 1));
    for (let start = 0; start <= text.length; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      onLine(text.slice(start, end));
      start = end + 1;
    }
  }
  // The body ends with the newline before the trailer, so nothing is left over in a whole file.
  if (carried.length > 0) onLine(carried.toString('utf8'));
}

function readFully(fd: number, target: Buffer, position: number): void {
  for (let done = 0; done < target.length; ) {
    const read = fs.readSync(fd, target, done, target.length - done, position + done);
    if (read === 0) throw new Error('snapshot file shrank while it was read');
    done += read;
  }
}

export function removeSnapshot(dir: string): void {
  fs.rmSync(path.join(dir, SNAPSHOT_FILE), { force: true });
}

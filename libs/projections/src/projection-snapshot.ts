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

/**
 * Loads a snapshot into empty read models if it is intact and belongs to this store; otherwise says why not.
 * With a `key`, an HMAC trailer must verify under it; a checksum trailer is accepted as whole but not
 * authenticated (the caller verifies it against the log).
 */
export function loadSnapshot(
  dir: string,
  storeName: string,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
  key: Buffer | null = null,
): SnapshotLoadResult {
  const file = path.join(dir, SNAPSHOT_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'discarded', why: `unreadable: ${(error as Error).message}` };
  }
  const checksumAt = text.lastIndexOf('\n#', text.length - 2);
  if (checksumAt < 0 || !text.endsWith('\n')) return { kind: 'discarded', why: 'torn: no checksum line' };
  const body = text.slice(0, checksumAt + 1);
  const trailer = text.slice(checksumAt + 2, text.length - 1);
  const authenticated = trailer.startsWith(HMAC_TRAILER);
  if (authenticated) {
    if (!key) return { kind: 'discarded', why: 'authenticated with a key this service was not given' };
    const given = Buffer.from(trailer.slice(HMAC_TRAILER.length), 'hex');
    const expected = createHmac('sha256', key).update(body).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: 'discarded', why: 'torn, edited or forged: authentication failed' };
    }
  } else if (createHash('sha256').update(body).digest('hex') !== trailer) {
    return { kind: 'discarded', why: 'torn or edited: checksum mismatch' };
  }
  const lines = body.split('\n');
  let header: SnapshotHeader;
  try {
    header = JSON.parse(lines[0]) as SnapshotHeader;
  } catch {
    return { kind: 'discarded', why: 'unreadable header' };
  }
  if (header.format !== FORMAT) return { kind: 'discarded', why: `unknown format ${String(header.format)}` };
  if (header.store !== storeName) {
    return { kind: 'discarded', why: `written for store ${header.store}, not ${storeName}` };
  }
  try {
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (line.length === 0) continue;
      if (line[0] === 'D') table.restore(JSON.parse(line.slice(1)) as SerializedDevice);
      else if (line[0] === 'I') {
        const [scope, entry] = JSON.parse(line.slice(1)) as [
          string,
          Parameters<IdempotencyIndex['restore']>[1],
        ];
        idempotency.restore(scope, entry);
      }
    }
  } catch (error) {
    // Whole by its checksum yet not what a writer produces: edited with the checksum recomputed.
    return { kind: 'discarded', why: `unreadable content: ${(error as Error).message}` };
  }
  return {
    kind: 'loaded',
    position: { commit: BigInt(header.commit), prepare: BigInt(header.prepare) },
    header,
    authenticated,
  };
}

export function removeSnapshot(dir: string): void {
  fs.rmSync(path.join(dir, SNAPSHOT_FILE), { force: true });
}

import * as fs from 'node:fs';
import type { IdempotencyIndex } from './idempotency.index';
import type { RelationshipTable, SerializedDevice } from './relationship-table.projection';

const NEWLINE = 0x0a;

/**
 * Restores the body of a format-1 snapshot (written before the binary format): after the header line, one
 * `D{…}` line per device in its canonical JSON form and one `I[scope, {…}]` line per Idempotency-Key. Kept so
 * a data dir from an older version starts from its snapshot; nothing writes this format any more.
 *
 * Reads `[from, bodyBytes)` in chunks of `chunkBytes`, feeding every byte to `hash`; returns what is wrong
 * with the content, or null. A bad line does not stop the hashing: the caller's trailer verdict comes first.
 */
export function readJsonLinesBody(
  fd: number,
  from: number,
  bodyBytes: number,
  chunkBytes: number,
  hash: { update(data: Buffer): unknown },
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
): string | null {
  let problem: string | null = null;
  forEachLine(fd, from, bodyBytes, chunkBytes, hash, (line) => {
    if (problem !== null || line.length === 0) return;
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
      problem = `unreadable content: ${(error as Error).message}`;
    }
  });
  return problem;
}

/** Feeds `[from, bodyBytes)` to `hash` and hands over each line, decoded, without its newline. */
function forEachLine(
  fd: number,
  from: number,
  bodyBytes: number,
  chunkBytes: number,
  hash: { update(data: Buffer): unknown },
  onLine: (line: string) => void,
): void {
  const chunk = Buffer.alloc(Math.max(1, Math.min(chunkBytes, bodyBytes - from)));
  // A line cut by a read is carried over as bytes: the cut may fall inside a multi-byte UTF-8 character.
  let carried: Buffer = Buffer.alloc(0);
  for (let offset = from; offset < bodyBytes;) {
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
    for (let start = 0; start <= text.length;) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      onLine(text.slice(start, end));
      start = end + 1;
    }
  }
  // The body ends with the newline before the trailer, so nothing is left over in a whole file.
  if (carried.length > 0) onLine(carried.toString('utf8'));
}

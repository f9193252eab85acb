import { createHash } from 'node:crypto';

/** Namespace of import event ids (a fixed random UUID): ids of different origins never collide. */
const IMPORT_NAMESPACE = Buffer.from('6f1c2a8e4b7d4e0f9a3c5d2b1e8f7a60', 'hex');

/**
 * The event id of line `line` of import `importId`: a name-based UUID (version 5, SHA-1) of
 * `importId:line`. The same file imported again yields the same ids, which the store's idempotent append and
 * the device-stream check turn into no-ops.
 */
export function importEventId(importId: string, line: number): string {
  const hash = createHash('sha1').update(IMPORT_NAMESPACE).update(`${importId}:${line}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

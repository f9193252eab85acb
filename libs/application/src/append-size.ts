import type { NewEvent } from '@ledger/event-store';

/**
 * EventStoreDB refuses an append larger than its `--max-append-size` (1 MiB by default); the ledger keeps
 * every append it makes under the configured `EVENTSTORE_MAX_APPEND_BYTES`, this by default.
 */
export const DEFAULT_MAX_APPEND_BYTES = 1024 * 1024;

/** Bytes an event adds to an append, as the server counts them closely enough: its id, type, data and metadata. */
export function eventBytes(event: NewEvent): number {
  return (
    36 +
    Buffer.byteLength(event.type) +
    Buffer.byteLength(JSON.stringify(event.data)) +
    (event.metadata === undefined ? 0 : Buffer.byteLength(JSON.stringify(event.metadata)))
  );
}

/**
 * Consecutive runs of `events` whose bytes stay within `maxBytes` (an event alone over it gets a run of its
 * own, which the store then refuses on its own).
 */
export function splitByBytes(events: readonly NewEvent[], maxBytes: number): NewEvent[][] {
  const parts: NewEvent[][] = [];
  let current: NewEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = eventBytes(event);
    if (current.length > 0 && bytes + size > maxBytes) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

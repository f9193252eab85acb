import { toStoredEvent, type RecordedEvent, type StoredEvent } from '@ledger/event-store';
import { hashLeafText } from './merkle-hash';

/**
 * The bytes a leaf of the tree hashes, for one event: the UTF-8 of
 *
 *   {"eventId":E,"stream":S,"revision":"R","type":T,"position":{"commit":"C","prepare":"P"},"data":D,"metadata":M}
 *
 * with the members in exactly that order and no whitespace; E, S, T are JSON strings (as `JSON.stringify`
 * writes them), R, C, P decimal integers written as JSON strings (they can exceed 2^53), D and M the event's data
 * and metadata as the store keeps them (`StoredEvent`: the stored JSON text, which for every event the store
 * wrote is `JSON.stringify` of the parsed value, members in stored order; `{}` for metadata the store has none
 * of). Nothing is decrypted, normalized or sorted: the tree commits to the bytes as stored, so a personal field
 * kept encrypted under a per-subject key hashes as its ciphertext and destroying the key (crypto-shredding)
 * leaves every leaf, root and proof intact. docs/audit-trail.md has the full definition.
 */
export function storedLeafText(event: StoredEvent): string {
  return (
    `{"eventId":${JSON.stringify(event.eventId)},"stream":${JSON.stringify(event.stream)},` +
    `"revision":"${event.revision}","type":${JSON.stringify(event.type)},` +
    `"position":{"commit":"${event.position.commit}","prepare":"${event.position.prepare}"},` +
    `"data":${event.dataJson},"metadata":${event.metadataJson}}`
  );
}

/** The leaf text of a parsed event: its data and metadata serialized back as the store wrote them. */
export function leafText(event: RecordedEvent): string {
  return storedLeafText(toStoredEvent(event));
}

export function leafBytes(event: RecordedEvent | StoredEvent): Buffer {
  return Buffer.from(textOf(event), 'utf8');
}

export function leafHashOf(event: RecordedEvent | StoredEvent): Buffer {
  return hashLeafText(textOf(event));
}

function textOf(event: RecordedEvent | StoredEvent): string {
  return 'dataJson' in event ? storedLeafText(event) : leafText(event);
}

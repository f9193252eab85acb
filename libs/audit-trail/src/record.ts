import type { RecordedEvent } from '@ledger/event-store';
import { positionToToken } from '@ledger/event-store';
import { canonicalJson, sha256Hex, type CanonicalValue } from './canonical';

/** Envelope fields every record has, besides the event's own data fields. */
export const ENVELOPE_KEYS = ['seq', 'position', 'eventId', 'stream', 'type'] as const;
export const CHAIN_KEYS = ['prevHash', 'hash'] as const;

/**
 * A data field named like an envelope or chain field is kept under `data.<name>`, so no event field can mask
 * the envelope and nothing an event carries is dropped. No ledger event has such a field today.
 */
const RESERVED = new Set<string>([...ENVELOPE_KEYS, ...CHAIN_KEYS]);
export const RENAMED_PREFIX = 'data.';

export interface RecordFields {
  readonly seq: number;
  readonly position: string;
  readonly eventId: string;
  readonly stream: string;
  readonly type: string;
  readonly [field: string]: CanonicalValue | undefined;
}

export interface TrailRecord extends RecordFields {
  readonly prevHash: string;
  readonly hash: string;
}

/** The event flattened into one object: envelope fields, then the event's data fields at the top level. */
export function recordFields(event: RecordedEvent, seq: number): RecordFields {
  const fields: Record<string, CanonicalValue | undefined> = {
    seq,
    position: positionToToken(event.position),
    eventId: event.eventId,
    stream: event.stream,
    type: event.type,
  };
  const data = event.data;
  for (const key in data) {
    if (!Object.prototype.hasOwnProperty.call(data, key) || data[key] === undefined) continue;
    fields[RESERVED.has(key) ? `${RENAMED_PREFIX}${key}` : key] = data[key];
  }
  return fields as RecordFields;
}

/**
 * The canonical text of a record without its `hash`, and a way to write it with one: the members are
 * serialized once and joined twice, since `hash` only adds one member at its sorted place.
 */
export function recordTexts(record: RecordFields & { readonly prevHash: string; readonly hash?: string }): {
  readonly unhashed: string;
  withHash(hash: string): string;
} {
  const keys = Object.keys(record).sort();
  const members: string[] = [];
  let hashAt = -1;
  for (const key of keys) {
    const value = record[key];
    if (value === undefined || key === 'hash') continue;
    if (hashAt < 0 && key > 'hash') hashAt = members.length;
    members.push(`${JSON.stringify(key)}:${canonicalJson(value)}`);
  }
  const at = hashAt < 0 ? members.length : hashAt;
  return {
    unhashed: `{${members.join(',')}}`,
    withHash: (hash) =>
      `{${[...members.slice(0, at), `"hash":${JSON.stringify(hash)}`, ...members.slice(at)].join(',')}}`,
  };
}

/** `hash` = SHA-256 (hex) of the canonical JSON of the record with `prevHash` and without `hash`. */
export function recordHash(
  record: RecordFields & { readonly prevHash: string; readonly hash?: string },
): string {
  return sha256Hex(recordTexts(record).unhashed);
}

export function chainRecord(fields: RecordFields, prevHash: string): TrailRecord {
  return encodeRecord(fields, prevHash).record;
}

/** Chains a record and writes its NDJSON line (the canonical JSON of the chained record). */
export function encodeRecord(fields: RecordFields, prevHash: string): { record: TrailRecord; line: string } {
  const linked: Record<string, CanonicalValue | undefined> = { ...fields, prevHash };
  delete linked.hash;
  const texts = recordTexts(linked as RecordFields & { prevHash: string });
  const hash = sha256Hex(texts.unhashed);
  linked.hash = hash;
  return { record: linked as unknown as TrailRecord, line: texts.withHash(hash) };
}

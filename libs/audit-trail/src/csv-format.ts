import { canonicalJson, type CanonicalValue } from './canonical';
import { ENVELOPE_KEYS, type TrailRecord } from './record';

/** Data fields of ledger events that get a column of their own; every other field goes to `extra`. */
export const CSV_DATA_COLUMNS = [
  'recordedAt',
  'occurredAt',
  'actor',
  'deviceId',
  'ownerId',
  'userId',
  'previousOwnerId',
  'newOwnerId',
  'keepViewers',
  'expiresAt',
  'reason',
  'model',
  'viewerId',
  'mediaId',
  'mediaType',
  'action',
  'servedBy',
  'decisionToken',
  'authorizedAs',
] as const;

/** The fixed header row of a CSV export. */
export const CSV_COLUMNS = [...ENVELOPE_KEYS, ...CSV_DATA_COLUMNS, 'extra', 'prevHash', 'hash'] as const;

/** First cell of the final row; the second cell holds the canonical manifest JSON. */
export const CSV_MANIFEST_MARKER = '#manifest';

const BOOLEAN_COLUMNS = new Set<string>(['keepViewers']);
const DATA_COLUMNS = new Set<string>(CSV_DATA_COLUMNS);
const FIXED_KEYS = new Set<string>([...ENVELOPE_KEYS, 'prevHash', 'hash']);

/**
 * Whether a value can sit in its column and be read back exactly: an empty cell means "absent", so only
 * non-empty strings (and booleans, in boolean columns) go in columns; anything else goes to `extra`.
 */
function fitsColumn(column: string, value: CanonicalValue | undefined): boolean {
  if (BOOLEAN_COLUMNS.has(column)) return typeof value === 'boolean';
  return typeof value === 'string' && value !== '';
}

/** One CSV row: the same values as the canonical record, so the row hashes to the record's hash. */
export function recordToCsvRow(record: TrailRecord): string[] {
  const extra: Record<string, CanonicalValue> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined || FIXED_KEYS.has(key)) continue;
    if (!DATA_COLUMNS.has(key) || !fitsColumn(key, value)) extra[key] = value;
  }
  const row: string[] = [String(record.seq), record.position, record.eventId, record.stream, record.type];
  for (const column of CSV_DATA_COLUMNS) {
    const value = record[column];
    row.push(value !== undefined && fitsColumn(column, value) ? String(value) : '');
  }
  row.push(Object.keys(extra).length > 0 ? canonicalJson(extra) : '', record.prevHash, record.hash);
  return row;
}

export type CsvRowResult =
  { readonly ok: true; readonly record: TrailRecord } | { readonly ok: false; readonly problem: string };

/**
 * Reads a row back into the record it was written from. A row that is not exactly what `recordToCsvRow`
 * would write for the record it denotes is refused, so there is one way to write each record.
 */
export function csvRowToRecord(row: readonly string[]): CsvRowResult {
  if (row.length !== CSV_COLUMNS.length) {
    return { ok: false, problem: `has ${row.length} cells, a record row has ${CSV_COLUMNS.length}` };
  }
  const cell = (column: (typeof CSV_COLUMNS)[number]): string => row[CSV_COLUMNS.indexOf(column)];
  const seqText = cell('seq');
  if (!/^[1-9][0-9]{0,15}$/.test(seqText) || !Number.isSafeInteger(Number(seqText))) {
    return { ok: false, problem: `seq ${JSON.stringify(seqText)} is not a positive integer` };
  }
  const fields: Record<string, CanonicalValue> = {};
  const extraText = cell('extra');
  if (extraText !== '') {
    let extra: unknown;
    try {
      extra = JSON.parse(extraText);
    } catch {
      return { ok: false, problem: 'extra is not JSON' };
    }
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
      return { ok: false, problem: 'extra is not a JSON object' };
    }
    for (const [key, value] of Object.entries(extra as Record<string, CanonicalValue>)) {
      if (FIXED_KEYS.has(key)) return { ok: false, problem: `extra repeats the column ${key}` };
      fields[key] = value;
    }
  }
  for (const column of CSV_DATA_COLUMNS) {
    const text = cell(column);
    if (text === '') continue;
    if (column in fields) return { ok: false, problem: `${column} is both a column and in extra` };
    if (BOOLEAN_COLUMNS.has(column)) {
      if (text !== 'true' && text !== 'false')
        return { ok: false, problem: `${column} is not true or false` };
      fields[column] = text === 'true';
    } else {
      fields[column] = text;
    }
  }
  const record: TrailRecord = {
    ...fields,
    seq: Number(seqText),
    position: cell('position'),
    eventId: cell('eventId'),
    stream: cell('stream'),
    type: cell('type'),
    prevHash: cell('prevHash'),
    hash: cell('hash'),
  };
  let rewritten: string[];
  try {
    rewritten = recordToCsvRow(record);
  } catch {
    return { ok: false, problem: 'holds a value with no canonical form' };
  }
  const differs = rewritten.findIndex((value, index) => value !== row[index]);
  if (differs >= 0) return { ok: false, problem: `${CSV_COLUMNS[differs]} is not in canonical form` };
  return { ok: true, record };
}

import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { GENESIS_HASH } from './canonical';
import { CSV_COLUMNS, csvRowToRecord, recordToCsvRow } from './csv-format';
import { chainRecord, type RecordFields, type TrailRecord } from './record';

const base: RecordFields = {
  seq: 3,
  position: 'lt1.a',
  eventId: '7c7f4c58-0d5e-4a52-9d51-0b7bd86cf2a1',
  stream: 'device-cam1',
  type: 'AccessRevoked',
};

function roundTrip(record: TrailRecord): TrailRecord {
  const text = stringify([recordToCsvRow(record)], { record_delimiter: 'unix', quoted_match: /\r/ });
  const rows = parse(text, { relax_column_count: true }) as string[][];
  expect(rows).toHaveLength(1);
  const result = csvRowToRecord(rows[0]);
  if (!result.ok) throw new Error(result.problem);
  return result.record;
}

describe('CSV rows', () => {
  it('has a fixed header', () => {
    expect(CSV_COLUMNS.join(',')).toBe(
      'seq,position,eventId,stream,type,recordedAt,occurredAt,actor,deviceId,ownerId,userId,previousOwnerId,' +
        'newOwnerId,keepViewers,expiresAt,reason,model,viewerId,mediaId,mediaType,action,servedBy,decisionToken,' +
        'authorizedAs,extra,prevHash,hash',
    );
  });

  it('puts fields with no column, empty strings and non-strings into extra, and reads them back', () => {
    const record = chainRecord(
      { ...base, reason: '', keepViewers: true, window: { from: null, to: 'x' }, count: 4, deviceIds: ['a'] },
      GENESIS_HASH,
    );
    const row = recordToCsvRow(record);
    expect(row[CSV_COLUMNS.indexOf('keepViewers')]).toBe('true');
    expect(row[CSV_COLUMNS.indexOf('reason')]).toBe('');
    expect(row[CSV_COLUMNS.indexOf('extra')]).toBe(
      '{"count":4,"deviceIds":["a"],"reason":"","window":{"from":null,"to":"x"}}',
    );
    expect(roundTrip(record)).toEqual(record);
  });

  it('reads back exactly any record with awkward strings (commas, quotes, CR, LF, unicode, spaces)', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', ',', '"', '\r', '\n', ' ', 'é', '😀', '#', '=', '\t'),
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        fc.record({ reason: text, actor: text, mediaId: text, custom: text }, { requiredKeys: [] }),
        fc.option(fc.boolean(), { nil: undefined }),
        (fields, keepViewers) => {
          const record = chainRecord({ ...base, ...fields, keepViewers }, GENESIS_HASH);
          expect(roundTrip(record)).toEqual(JSON.parse(JSON.stringify(record)));
        },
      ),
    );
  });

  it('refuses a row that is not what the writer would write', () => {
    const record = chainRecord({ ...base, reason: 'lost phone' }, GENESIS_HASH);
    const row = recordToCsvRow(record);
    const with_ = (column: string, value: string): string[] =>
      row.map((cell, index) => (CSV_COLUMNS[index] === column ? value : cell));
    expect(csvRowToRecord(with_('seq', '03'))).toMatchObject({ ok: false });
    expect(csvRowToRecord(with_('keepViewers', 'yes'))).toMatchObject({ ok: false });
    expect(csvRowToRecord(with_('extra', '{"reason":"x"}'))).toMatchObject({ ok: false });
    expect(csvRowToRecord(with_('extra', '{"actor":"a"}'))).toMatchObject({
      ok: false,
      problem: 'actor is not in canonical form',
    });
    expect(csvRowToRecord(with_('extra', '{"b":1,"a":2}'))).toMatchObject({ ok: false });
    expect(csvRowToRecord(with_('extra', '{"n":1.5}'))).toMatchObject({ ok: false });
    expect(csvRowToRecord(row.slice(1))).toMatchObject({ ok: false });
    expect(csvRowToRecord(row)).toEqual({ ok: true, record });
  });
});

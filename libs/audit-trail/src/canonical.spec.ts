import { createHash } from 'node:crypto';
import { canonicalJson, GENESIS_HASH, NotCanonicalError, sha256Hex } from './canonical';
import { chainRecord, encodeRecord, recordFields, recordHash, type RecordFields } from './record';
import type { RecordedEvent } from '@ledger/event-store';

describe('canonicalJson', () => {
  it.each([
    [{ b: 1, a: 'x' }, '{"a":"x","b":1}'],
    [
      { z: { y: true, x: null }, a: [3, 'b', { d: 1, c: 2 }] },
      '{"a":[3,"b",{"c":2,"d":1}],"z":{"x":null,"y":true}}',
    ],
    [{ skipped: undefined, kept: false }, '{"kept":false}'],
    // UTF-16 code unit order: upper case before lower case, "é" (U+00E9) after ASCII, astral after BMP.
    [{ b: 1, B: 2, é: 3, '😀': 4, a1: 5, a: 6 }, '{"B":2,"a":6,"a1":5,"b":1,"é":3,"😀":4}'],
    [
      { s: 'quote " back \\ nl \n tab \t ctl \u0001 ü' },
      '{"s":"quote \\" back \\\\ nl \\n tab \\t ctl \\u0001 ü"}',
    ],
    [[], '[]'],
    [{}, '{}'],
    [-0, '0'],
    [-42, '-42'],
  ])('writes %j as %s', (value, text) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it.each([[1.5], [NaN], [Infinity], [2 ** 53]])('refuses the number %p', (value) => {
    expect(() => canonicalJson({ n: value })).toThrow(NotCanonicalError);
  });

  it('parses back to an equal value and re-serializes identically', () => {
    const value = { filter: { userId: 'u', from: '2024-02-16T09:00:00.000Z' }, count: 3, list: ['a', 'b'] };
    const text = canonicalJson(value);
    expect(canonicalJson(JSON.parse(text))).toBe(text);
    expect(JSON.parse(text)).toEqual(value);
  });
});

describe('record hash chain', () => {
  const event = (eventId: string, commit: bigint, data: Record<string, string | boolean>): RecordedEvent => ({
    eventId,
    stream: 'device-cam1',
    revision: 0n,
    type: 'OwnershipTransferred',
    data,
    metadata: { correlationId: 'not exported' },
    position: { commit, prepare: commit },
  });
  const transfer = event('e1', 35n, {
    deviceId: 'cam1',
    actor: 'svc:p',
    previousOwnerId: 'alice',
    newOwnerId: 'dave',
    keepViewers: false,
    occurredAt: '2024-02-16T09:00:40.000Z',
    recordedAt: '2024-02-16T09:00:41.000Z',
  });

  it('flattens envelope and data fields and leaves metadata out', () => {
    expect(recordFields(transfer, 1)).toEqual({
      seq: 1,
      position: 'lt1.z',
      eventId: 'e1',
      stream: 'device-cam1',
      type: 'OwnershipTransferred',
      deviceId: 'cam1',
      actor: 'svc:p',
      previousOwnerId: 'alice',
      newOwnerId: 'dave',
      keepViewers: false,
      occurredAt: '2024-02-16T09:00:40.000Z',
      recordedAt: '2024-02-16T09:00:41.000Z',
    });
  });

  it('keeps a data field named like an envelope field under data.<name>', () => {
    const odd = event('e2', 1n, { type: 'inner', hash: 'h', occurredAt: '2024-02-16T09:00:40.000Z' });
    const fields = recordFields(odd, 7);
    expect(fields.type).toBe('OwnershipTransferred');
    expect(fields['data.type']).toBe('inner');
    expect(fields['data.hash']).toBe('h');
  });

  it('hashes SHA-256 over the canonical record with prevHash and without hash', () => {
    const record = chainRecord(recordFields(transfer, 1), GENESIS_HASH);
    const expectedText =
      '{"actor":"svc:p","deviceId":"cam1","eventId":"e1","keepViewers":false,"newOwnerId":"dave",' +
      '"occurredAt":"2024-02-16T09:00:40.000Z","position":"lt1.z",' +
      `"prevHash":"${GENESIS_HASH}","previousOwnerId":"alice","recordedAt":"2024-02-16T09:00:41.000Z",` +
      '"seq":1,"stream":"device-cam1","type":"OwnershipTransferred"}';
    expect(record.hash).toBe(createHash('sha256').update(expectedText).digest('hex'));
    expect(record.prevHash).toBe(GENESIS_HASH);
    expect(recordHash(record)).toBe(record.hash);
  });

  it('chains each record to the previous hash, so any change upstream changes every later hash', () => {
    const second = event('e2', 40n, { deviceId: 'cam1', actor: 'a', occurredAt: '2024-02-16T09:00:50.000Z' });
    const r1 = chainRecord(recordFields(transfer, 1), GENESIS_HASH);
    const r2 = chainRecord(recordFields(second, 2), r1.hash);
    expect(r2.prevHash).toBe(r1.hash);
    const altered = chainRecord({ ...recordFields(transfer, 1), newOwnerId: 'mallory' }, GENESIS_HASH);
    expect(altered.hash).not.toBe(r1.hash);
    expect(chainRecord(recordFields(second, 2), altered.hash).hash).not.toBe(r2.hash);
  });

  it('has a 64-zero genesis and hex hashes', () => {
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('encodeRecord', () => {
  it('writes exactly the canonical JSON of the chained record, whatever keys sort around "hash"', () => {
    const cases: RecordFields[] = [
      { seq: 1, position: 'lt1.1', eventId: 'e', stream: 's', type: 't' },
      {
        seq: 2,
        position: 'lt1.2',
        eventId: 'e',
        stream: 's',
        type: 't',
        a: 'x',
        zz: 'y',
        hasz: 'q',
        ha: 'p',
        H: 'u',
      },
      {
        seq: 3,
        position: 'lt1.3',
        eventId: 'e',
        stream: 's',
        type: 't',
        skipped: undefined,
        nested: { b: [1, 'x'], a: null },
      },
    ];
    for (const fields of cases) {
      const { record, line } = encodeRecord(fields, GENESIS_HASH);
      expect(line).toBe(canonicalJson(record));
      expect(record.hash).toBe(recordHash(record));
      expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(record)));
    }
  });
});

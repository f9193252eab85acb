import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { loadConfig } from '@ledger/config';
import { Streams } from '@ledger/domain';
import { openEventStore, type EventStore } from '@ledger/event-store';
import { canonicalJson, GENESIS_HASH } from './canonical';
import { CSV_COLUMNS } from './csv-format';
import { loadExportSigner, parsePublicKeyPem, type ExportPublicKey, type ExportSigner } from './export-key';
import { exportTrail, recordExport, trailChunks } from './export-trail';
import { manifestJson, signManifest, type ExportFormat, type Manifest } from './manifest';
import { chainRecord, type TrailRecord } from './record';
import type { TrailFilter } from './trail-filter';
import { verifyExport, type VerificationKey, type VerifyResult } from './verify-export';
import { writeSampleHistory, type SampleHistory } from './testing/ledger-history';

const NOW = new Date('2024-02-18T12:00:00.000Z');

async function* chunksOf(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

describe('signed, chained exports on the embedded store', () => {
  let dataDir: string;
  let store: EventStore;
  let history: SampleHistory;
  let signer: ExportSigner;
  let other: ExportSigner;
  /** What an auditor holds: the public key PEM only. */
  let auditorKey: ExportPublicKey;

  const exportText = async (filter: TrailFilter, format: ExportFormat, by = signer): Promise<string> => {
    const parts: string[] = [];
    await exportTrail(store, filter, format, by, (chunk) => void parts.push(chunk), {
      now: () => NOW,
      chunkSize: 100,
    });
    return parts.join('');
  };
  const verifyText = (text: string, key: VerificationKey = auditorKey): Promise<VerifyResult> =>
    verifyExport(chunksOf(text, 37), key);

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trail-export-'));
    store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    history = await writeSampleHistory(store);
    signer = loadExportSigner(loadConfig({ LEDGER_DATA_DIR: dataDir }));
    other = loadExportSigner(loadConfig({ LEDGER_DATA_DIR: path.join(dataDir, 'other') }));
    auditorKey = parsePublicKeyPem(signer.publicKey.pem, { kind: 'file', file: 'ledger-export.pub.pem' });
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe('intact exports', () => {
    it('NDJSON: canonical records in log order, chained from 64 zeros, then the signed manifest', async () => {
      const text = await exportText({ userId: 'bob' }, 'ndjson');
      const lines = text.trimEnd().split('\n');
      expect(lines).toHaveLength(4);
      const records = lines.slice(0, 3).map((line) => JSON.parse(line) as TrailRecord);
      lines.slice(0, 3).forEach((line, i) => expect(canonicalJson(records[i])).toBe(line));
      expect(records.map((r) => r.eventId)).toEqual([
        history.ids.grantBob,
        history.ids.vBob,
        history.ids.xferCam1,
      ]);
      expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(records[0].prevHash).toBe(GENESIS_HASH);
      expect(records[1].prevHash).toBe(records[0].hash);
      expect(records[0]).toEqual({
        seq: 1,
        position: expect.stringMatching(/^lt1\./),
        eventId: history.ids.grantBob,
        stream: 'device-cam1',
        type: 'AccessGranted',
        deviceId: 'cam1',
        userId: 'bob',
        actor: 'owner',
        occurredAt: '2024-02-16T09:00:20.000Z',
        recordedAt: expect.stringMatching(/^2024-02-17T00:00:00\.\d{3}Z$/),
        prevHash: GENESIS_HASH,
        hash: chainRecord({ ...records[0] }, GENESIS_HASH).hash,
      });
      const { manifest } = JSON.parse(lines[3]) as { manifest: Manifest };
      expect(manifest).toEqual({
        format: 'ledger-audit-trail/1',
        encoding: 'ndjson',
        filter: { userId: 'bob' },
        count: 3,
        firstToken: records[0].position,
        lastToken: records[2].position,
        headToken: expect.stringMatching(/^lt1\./),
        lastHash: records[2].hash,
        generatedAt: NOW.toISOString(),
        keyId: signer.publicKey.keyId,
        publicKey: signer.publicKey.pem,
        signature: expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/),
      });
      expect(await verifyText(text)).toMatchObject({ ok: true, count: 3, format: 'ndjson' });
    });

    it('CSV carries the same records and the same chain, and verifies', async () => {
      const ndjson = await exportText({ deviceId: 'cam1' }, 'ndjson');
      const csv = await exportText({ deviceId: 'cam1' }, 'csv');
      const rows = parse(csv, { relax_column_count: true }) as string[][];
      expect(rows[0]).toEqual([...CSV_COLUMNS]);
      const ndjsonHashes = ndjson
        .trimEnd()
        .split('\n')
        .slice(0, -1)
        .map((line) => (JSON.parse(line) as TrailRecord).hash);
      expect(rows.slice(1, -1).map((row) => row[CSV_COLUMNS.indexOf('hash')])).toEqual(ndjsonHashes);
      expect(rows[rows.length - 1][0]).toBe('#manifest');
      expect(rows[rows.length - 1]).toHaveLength(CSV_COLUMNS.length);
      const manifest = JSON.parse(rows[rows.length - 1][1]) as Manifest;
      expect(manifest).toMatchObject({ encoding: 'csv', count: 11, lastHash: ndjsonHashes[10] });
      // The revoke's reason holds a comma, quotes and CR LF, so the last record spans two lines.
      expect(rows[11][CSV_COLUMNS.indexOf('reason')]).toBe('moved out, "keys" returned\r\nsee ticket #42');
      expect(await verifyText(csv)).toMatchObject({ ok: true, count: 11, format: 'csv' });
      expect(await verifyText(ndjson)).toMatchObject({ ok: true, count: 11 });
    });

    it('verifies from a file path, and an export with no records', async () => {
      const file = path.join(dataDir, 'cam3.ndjson');
      fs.writeFileSync(file, await exportText({ deviceId: 'cam3' }, 'ndjson'));
      const result = await verifyExport(file, auditorKey);
      expect(result).toMatchObject({ ok: true, count: 0 });
      expect(result.ok && result.manifest).toMatchObject({
        lastHash: GENESIS_HASH,
        firstToken: null,
        lastToken: null,
      });
      expect(await verifyText(await exportText({ deviceId: 'cam3' }, 'csv'))).toMatchObject({
        ok: true,
        count: 0,
      });
    });

    it('survives CRLF line endings: the values, not the bytes, are hashed', async () => {
      const text = await exportText({ userId: 'alice' }, 'ndjson');
      expect(await verifyText(text.replace(/\n/g, '\r\n'))).toMatchObject({ ok: true, count: 8 });
    });

    it('streams the export as chunks and returns the summary', async () => {
      const chunks = trailChunks(store, { userId: 'alice' }, 'ndjson', signer, { chunkSize: 1 });
      let count = 0;
      for (;;) {
        const next = await chunks.next();
        if (next.done) {
          expect(next.value).toMatchObject({ count: 8, filter: { userId: 'alice' }, format: 'ndjson' });
          expect(next.value.lastHash).toBe(next.value.manifest.lastHash);
          break;
        }
        count++;
      }
      expect(count).toBe(9);
    });

    it('records every export in the ledger, and audit events stay out of trails', async () => {
      const summary = await exportTrail(
        store,
        { userId: 'alice', from: '2024-02-16T10:00:00+01:00' },
        'csv',
        signer,
        () => undefined,
      );
      const append = await recordExport(store, summary, summary.filter, 'csv', 'cli:auditor', {
        now: () => NOW,
      });
      const audit = await store.readStream(Streams.audit);
      const last = audit[audit.length - 1];
      expect(last.position).toEqual(append.position);
      expect(last.type).toBe('AuditTrailExported');
      expect(last.data).toEqual({
        actor: 'cli:auditor',
        filter: { userId: 'alice', from: '2024-02-16T09:00:00.000Z' },
        format: 'csv',
        count: 8,
        lastHash: summary.lastHash,
        recordedAt: NOW.toISOString(),
      });
      const again = await exportTrail(store, { userId: 'alice' }, 'ndjson', signer, () => undefined);
      expect(again.count).toBe(8);
    });
  });

  describe('NDJSON tampering is named', () => {
    let lines: string[];
    beforeAll(async () => {
      // cam1: 11 records on lines 1–11, the manifest on line 12.
      lines = (await exportText({ deviceId: 'cam1' }, 'ndjson')).trimEnd().split('\n');
      expect(lines).toHaveLength(12);
    });
    const record = (line: string): TrailRecord => JSON.parse(line) as TrailRecord;
    const text = (edited: string[]): string => `${edited.join('\n')}\n`;
    const replaced = (index: number, line: string): string[] => lines.map((l, i) => (i === index ? line : l));

    it('an edited field', async () => {
      const edited = replaced(2, lines[2].replace('"viewerId":"bob"', '"viewerId":"bobby"'));
      expect(edited[2]).not.toBe(lines[2]);
      expect(await verifyText(text(edited))).toMatchObject({
        ok: false,
        kind: 'tampered',
        recordSeq: 3,
        line: 3,
      });
    });

    it('an edited field whose own hash was recomputed', async () => {
      const { hash: _hash, ...fields } = record(lines[2]);
      const rehashed = chainRecord({ ...fields, viewerId: 'bobby' }, fields.prevHash);
      const result = await verifyText(text(replaced(2, canonicalJson(rehashed))));
      expect(result).toMatchObject({ ok: false, kind: 'tampered', recordSeq: 3, line: 3 });
    });

    it('a dropped record', async () => {
      const result = await verifyText(text(lines.filter((_, i) => i !== 2)));
      expect(result).toMatchObject({ ok: false, kind: 'tampered', recordSeq: 3, line: 3 });
    });

    it('two records swapped', async () => {
      const swapped = [...lines];
      [swapped[2], swapped[3]] = [swapped[3], swapped[2]];
      expect(await verifyText(text(swapped))).toMatchObject({
        ok: false,
        kind: 'tampered',
        recordSeq: 3,
        line: 3,
      });
    });

    it('a duplicated record', async () => {
      const duplicated = [...lines.slice(0, 3), lines[2], ...lines.slice(3)];
      expect(await verifyText(text(duplicated))).toMatchObject({
        ok: false,
        kind: 'tampered',
        recordSeq: 3,
        line: 4,
      });
    });

    it('a record added at the end, correctly chained', async () => {
      const last = record(lines[10]);
      const forged = chainRecord({ ...last, seq: 12, position: 'lt1.zzzz', eventId: 'forged' }, last.hash);
      const added = [...lines.slice(0, 11), canonicalJson(forged), lines[11]];
      const result = await verifyText(text(added));
      expect(result).toMatchObject({ ok: false, kind: 'tampered', recordSeq: 12, line: 12 });
    });

    it('a record inserted in the middle, correctly chained to its predecessor', async () => {
      const previous = record(lines[2]);
      const forged = chainRecord({ ...previous, seq: 4, viewerId: 'ghost' }, previous.hash);
      const inserted = [...lines.slice(0, 3), canonicalJson(forged), ...lines.slice(3)];
      const result = await verifyText(text(inserted));
      // It borrowed its predecessor's log position, which puts it out of log order.
      expect(result).toMatchObject({ ok: false, kind: 'tampered', recordSeq: 4, line: 4 });
    });

    it('a file cut mid-line, cut at a line end, or missing its last record', async () => {
      const full = text(lines);
      const cutAt = full.indexOf(lines[6]) + 40;
      expect(await verifyText(full.slice(0, cutAt))).toMatchObject({
        ok: false,
        kind: 'truncated',
        recordSeq: 7,
        line: 7,
      });
      expect(await verifyText(text(lines.slice(0, 5)))).toMatchObject({
        ok: false,
        kind: 'truncated',
        recordSeq: 6,
      });
      const withoutLast = [...lines.slice(0, 10), lines[11]];
      expect(await verifyText(text(withoutLast))).toMatchObject({
        ok: false,
        kind: 'truncated',
        recordSeq: 11,
        line: 11,
      });
    });

    it('a manifest edited to hide a dropped record', async () => {
      const manifest = (JSON.parse(lines[11]) as { manifest: Manifest }).manifest;
      const previous = record(lines[9]);
      const edited = { ...manifest, count: 10, lastHash: previous.hash, lastToken: previous.position };
      const result = await verifyText(text([...lines.slice(0, 10), `{"manifest":${manifestJson(edited)}}`]));
      expect(result).toMatchObject({ ok: false, kind: 'bad_signature', line: 11 });
    });

    it('a manifest whose filter was edited', async () => {
      const edited = replaced(11, lines[11].replace('"deviceId":"cam1"', '"deviceId":"cam2"'));
      expect(await verifyText(text(edited))).toMatchObject({ ok: false, kind: 'bad_signature', line: 12 });
    });

    it('content after the manifest', async () => {
      const result = await verifyText(text([...lines, lines[0]]));
      expect(result).toMatchObject({ ok: false, kind: 'tampered', line: 13 });
    });

    it('a signature by another key, and a whole export forged and re-signed with the forger key', async () => {
      const wrongKey = await verifyText(text(lines), other.publicKey);
      expect(wrongKey).toMatchObject({ ok: false, kind: 'bad_signature', line: 12 });
      expect(!wrongKey.ok && wrongKey.message).toContain(other.publicKey.keyId);

      const forged = await exportText({ deviceId: 'cam1' }, 'ndjson', other);
      expect(await verifyText(forged)).toMatchObject({ ok: false, kind: 'bad_signature' });
      // The embedded key only proves the file agrees with itself, which is why it is never the default.
      expect(await verifyText(forged, 'embedded')).toMatchObject({ ok: true });
    });

    it('a record that is not in canonical form', async () => {
      const spaced = replaced(0, lines[0].replace('{"', '{ "'));
      expect(await verifyText(text(spaced))).toMatchObject({
        ok: false,
        kind: 'tampered',
        recordSeq: 1,
        line: 1,
      });
    });

    it('a manifest re-signed after records were rewritten keeps failing with the ledger key', async () => {
      const manifest = (JSON.parse(lines[11]) as { manifest: Manifest }).manifest;
      const { signature: _signature, ...unsigned } = manifest;
      const resigned = signManifest(
        { ...unsigned, keyId: other.publicKey.keyId, publicKey: other.publicKey.pem },
        other,
      );
      const result = await verifyText(
        text([...lines.slice(0, 11), `{"manifest":${manifestJson(resigned)}}`]),
      );
      expect(result).toMatchObject({ ok: false, kind: 'bad_signature' });
    });
  });

  describe('CSV tampering is named', () => {
    let rows: string[][];
    beforeAll(async () => {
      // Header on line 1, record k on line k + 1; record 11 spans lines 12–13; the manifest is on line 14.
      rows = parse(await exportText({ deviceId: 'cam1' }, 'csv'), { relax_column_count: true }) as string[][];
      expect(rows).toHaveLength(13);
    });
    const csv = (edited: string[][]): string =>
      stringify(edited, { record_delimiter: 'unix', quoted_match: /\r/ });
    const viewerColumn = CSV_COLUMNS.indexOf('viewerId');

    it('verifies when written back unchanged', async () => {
      expect(await verifyText(csv(rows))).toMatchObject({ ok: true, count: 11 });
    });

    it('an edited cell', async () => {
      const edited = rows.map((row, i) =>
        i === 3 ? row.map((cell, c) => (c === viewerColumn ? 'bobby' : cell)) : row,
      );
      expect(await verifyText(csv(edited))).toMatchObject({
        ok: false,
        kind: 'tampered',
        recordSeq: 3,
        line: 4,
      });
    });

    it('an edited multi-line cell names the line the record starts on', async () => {
      const reason = CSV_COLUMNS.indexOf('reason');
      const edited = rows.map((row, i) =>
        i === 11 ? row.map((cell, c) => (c === reason ? `${cell}!` : cell)) : row,
      );
      expect(await verifyText(csv(edited))).toMatchObject({
        ok: false,
        kind: 'tampered',
        recordSeq: 11,
        line: 12,
      });
    });

    it('a dropped, a swapped, a duplicated and an added row', async () => {
      expect(await verifyText(csv(rows.filter((_, i) => i !== 3)))).toMatchObject({
        kind: 'tampered',
        recordSeq: 3,
        line: 4,
      });
      const swapped = [...rows];
      [swapped[3], swapped[4]] = [swapped[4], swapped[3]];
      expect(await verifyText(csv(swapped))).toMatchObject({ kind: 'tampered', recordSeq: 3, line: 4 });
      const duplicated = [...rows.slice(0, 4), rows[3], ...rows.slice(4)];
      expect(await verifyText(csv(duplicated))).toMatchObject({ kind: 'tampered', recordSeq: 3, line: 5 });
      const seqColumn = CSV_COLUMNS.indexOf('seq');
      const added = [
        ...rows.slice(0, 12),
        rows[11].map((cell, c) => (c === seqColumn ? '12' : cell)),
        rows[12],
      ];
      expect(await verifyText(csv(added))).toMatchObject({ kind: 'tampered', recordSeq: 12, line: 14 });
    });

    it('a file cut inside a row, or inside the quoted multi-line cell', async () => {
      const full = csv(rows);
      const cutRow = full.indexOf(rows[6][2]);
      expect(await verifyText(full.slice(0, cutRow))).toMatchObject({
        ok: false,
        kind: 'truncated',
        recordSeq: 6,
        line: 7,
      });
      const cutQuote = full.indexOf('see ticket');
      expect(await verifyText(full.slice(0, cutQuote))).toMatchObject({
        ok: false,
        kind: 'truncated',
        recordSeq: 11,
        line: 12,
      });
      expect(await verifyText(csv(rows.slice(0, 12)))).toMatchObject({
        ok: false,
        kind: 'truncated',
        recordSeq: 12,
      });
    });

    it('a row that is not valid CSV', async () => {
      const full = csv(rows);
      const broken = full.replace(`,${rows[5][2]},`, `,${rows[5][2]}"x",`);
      expect(broken).not.toBe(full);
      expect(await verifyText(broken)).toMatchObject({ ok: false, kind: 'tampered', recordSeq: 5, line: 6 });
    });

    it('a wrong key and an edited manifest', async () => {
      expect(await verifyText(csv(rows), other.publicKey)).toMatchObject({
        ok: false,
        kind: 'bad_signature',
        line: 14,
      });
      const manifest = JSON.parse(rows[12][1]) as Manifest;
      const edited = rows.map((row, i) =>
        i === 12
          ? [row[0], manifestJson({ ...manifest, generatedAt: '2030-01-01T00:00:00.000Z' }), ...row.slice(2)]
          : row,
      );
      expect(await verifyText(csv(edited))).toMatchObject({ ok: false, kind: 'bad_signature', line: 14 });
    });
  });

  describe('files that are not exports', () => {
    it.each([
      ['an empty file', ''],
      ['blank lines', '\n\n  \n'],
      ['plain text', 'hello world\n'],
      ['JSON of another shape', '{"foo":1}\n{"bar":2}\n'],
      ['a JSON array', '[1,2,3]\n'],
      ['broken JSON', '{"seq":\n'],
      ['a CSV with another header', 'id,name\n1,x\n'],
      ['binary', '\u0000\u0001\u0002\u00ff'],
    ])('%s', async (_name, content) => {
      expect(await verifyText(content)).toMatchObject({ ok: false, kind: 'not_an_export' });
    });

    it('a file of only the manifest line of another export is verified as an empty export', async () => {
      const text = await exportText({ deviceId: 'cam1' }, 'ndjson');
      const manifestOnly = `${text.trimEnd().split('\n').pop()}\n`;
      expect(await verifyText(manifestOnly)).toMatchObject({ ok: false, kind: 'truncated', recordSeq: 1 });
    });
  });
});

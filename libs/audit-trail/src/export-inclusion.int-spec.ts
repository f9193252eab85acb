import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '@ledger/config';
import { openEventStore, type EventStore } from '@ledger/event-store';
import { headKeyOf, headSignerOf, IntegrityMonitor, type TreeHead } from '@ledger/log-integrity';
import { referenceLeafHash, referenceVerifyInclusion } from '../../../test/support/merkle-reference';
import { loadExportSigner, parsePublicKeyPem, type ExportPublicKey, type ExportSigner } from './export-key';
import { exportTrail, type ExportOptions } from './export-trail';
import type { ExportFormat, Manifest } from './manifest';
import { verifyExport } from './verify-export';
import { writeSampleHistory } from './testing/ledger-history';

async function* chunksOf(text: string, size = 53): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

type Cut = NonNullable<ExportOptions['cutAt']>;

describe('exports carry an inclusion proof of every record in the signed head they were cut at', () => {
  let dataDir: string;
  let store: EventStore;
  let signer: ExportSigner;
  let auditorKey: ExportPublicKey;
  let monitor: IntegrityMonitor;
  let cut: Cut;

  const exportText = async (format: ExportFormat, cutAt: Cut = cut): Promise<string> => {
    const parts: string[] = [];
    await exportTrail(store, { deviceId: 'cam1' }, format, signer, (chunk) => void parts.push(chunk), {
      cutAt,
      chunkSize: 200,
    });
    return parts.join('');
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trail-inclusion-'));
    store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    await writeSampleHistory(store);
    signer = loadExportSigner(loadConfig({ LEDGER_DATA_DIR: dataDir }));
    auditorKey = parsePublicKeyPem(signer.publicKey.pem, { kind: 'file', file: 'ledger-export.pub.pem' });
    monitor = new IntegrityMonitor(store, {
      dataDir,
      signer: headSignerOf(signer),
      key: headKeyOf(signer.publicKey),
      policy: { everyEvents: 0, everySeconds: 0 },
    });
    monitor.start();
    await monitor.whenVerified();
    cut = await monitor.cutExportAt();
    // Written after the cut: in the tree, but not in the export or the head's tree.
    await store.append({
      stream: 'views-0',
      expectedRevision: 'any',
      events: [
        {
          eventId: randomUUID(),
          type: 'MediaViewed',
          data: {
            deviceId: 'cam1',
            viewerId: 'bob',
            mediaId: 'late',
            mediaType: 'thumbnail',
            action: 'opened',
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await monitor.stop();
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('NDJSON: each record is followed by its proof, which an independent implementation accepts against the head', async () => {
    const text = await exportText('ndjson');
    const lines = text.trim().split('\n');
    const manifest = (JSON.parse(lines[lines.length - 1]) as { manifest: Manifest }).manifest;
    expect(manifest).toMatchObject({ proofs: 'inclusion', treeHead: cut.treeHead });
    const body = lines.slice(0, -1);
    expect(body.length).toBe(2 * manifest.count);
    expect(manifest.count).toBeGreaterThan(3);
    for (let i = 0; i < body.length; i += 2) {
      const record = JSON.parse(body[i]) as { seq: number; eventId: string; position: string };
      const { inclusion } = JSON.parse(body[i + 1]) as {
        inclusion: { seq: number; leafIndex: number; treeSize: number; leaf: string; auditPath: string[] };
      };
      expect(inclusion.seq).toBe(record.seq);
      expect(inclusion.treeSize).toBe(cut.treeHead.treeSize);
      expect((JSON.parse(inclusion.leaf) as { eventId: string }).eventId).toBe(record.eventId);
      const leafHash = referenceLeafHash(Buffer.from(inclusion.leaf, 'utf8'));
      expect(
        referenceVerifyInclusion(
          leafHash,
          inclusion.leafIndex,
          inclusion.treeSize,
          inclusion.auditPath,
          cut.treeHead.rootHash,
        ),
      ).toBe(true);
    }
    expect(await verifyExport(chunksOf(text), auditorKey)).toMatchObject({ ok: true, count: manifest.count });
  });

  it('CSV: the same proofs, as #inclusion rows, verify too', async () => {
    const text = await exportText('csv');
    expect(text).toContain('\n#inclusion,');
    expect(await verifyExport(chunksOf(text), auditorKey)).toMatchObject({ ok: true, format: 'csv' });
  });

  const proofLines = (text: string): number[] =>
    text
      .split('\n')
      .map((line, index) => (line.startsWith('{"inclusion":') ? index : -1))
      .filter((index) => index >= 0);

  it('names the record whose audit path does not lead to the signed root', async () => {
    const lines = (await exportText('ndjson')).split('\n');
    const third = proofLines(lines.join('\n'))[2];
    lines[third] = lines[third].replace(/"auditPath":\["([0-9a-f])/, (_all, digit: string) => {
      return `"auditPath":["${digit === '0' ? '1' : '0'}`;
    });
    const result = await verifyExport(chunksOf(lines.join('\n')), auditorKey);
    expect(result).toMatchObject({ ok: false, kind: 'tampered', recordSeq: 3, line: third + 1 });
    expect(!result.ok && result.message).toMatch(/record 3 .*not included in the signed tree head/);
  });

  it('names the record whose leaf is not the event it shows, and the one whose proof is missing', async () => {
    const lines = (await exportText('ndjson')).split('\n');
    const [, second] = proofLines(lines.join('\n'));
    const edited = [...lines];
    edited[second] = edited[second].replace(/\\"deviceId\\":\\"cam1\\"/, '\\"deviceId\\":\\"cam9\\"');
    expect(edited[second]).not.toBe(lines[second]);
    expect(await verifyExport(chunksOf(edited.join('\n')), auditorKey)).toMatchObject({
      ok: false,
      kind: 'tampered',
      recordSeq: 2,
    });
    const dropped = lines.filter((_line, index) => index !== second);
    expect(await verifyExport(chunksOf(dropped.join('\n')), auditorKey)).toMatchObject({
      ok: false,
      kind: 'tampered',
      recordSeq: 2,
    });
  });

  it('refuses an export whose tree head is not signed by the key, though the manifest is', async () => {
    const forged: TreeHead = { ...cut.treeHead, signature: Buffer.alloc(64, 7).toString('base64') };
    const text = await exportText('ndjson', { ...cut, treeHead: forged });
    expect(await verifyExport(chunksOf(text), auditorKey)).toMatchObject({
      ok: false,
      kind: 'bad_signature',
    });
  });
});

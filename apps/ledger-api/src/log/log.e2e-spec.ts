import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  loadExportSigner,
  loadLedgerPublicKey,
  manifestJson,
  signManifest,
  verifyExport,
  type Manifest,
} from '@ledger/audit-trail';
import { readAllPages, type RecordedEvent } from '@ledger/event-store';
import { signTreeHead } from '@ledger/log-integrity';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../../test/support/ledger-test-app';
import {
  referenceLeafBytes,
  referenceLeafHash,
  referenceVerifyConsistency,
  referenceVerifyInclusion,
} from '../../../../test/support/merkle-reference';

/** The verifier docs/audit-trail.md §9.4 gives a third party: plain Node, none of the ledger's code. */
const THIRD_PARTY_VERIFIER = path.resolve(__dirname, '../../../../docs/examples/check-log-proof.js');

async function* chunksOf(text: string): AsyncGenerator<string> {
  yield text;
}

/** The signed text of a head, as docs/audit-trail.md states it. */
const signedText = (head: { treeSize: number; rootHash: string; timestamp: string }) =>
  `{"format":"ledger-tree-head/1","rootHash":"${head.rootHash}","timestamp":"${head.timestamp}","treeSize":${head.treeSize}}`;

describe('the log API: signed tree heads, inclusion and consistency proofs', () => {
  let ledger: LedgerTestApp;
  const id = uniqueIds('log');

  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  async function eventsOfDevice(deviceId: string): Promise<RecordedEvent[]> {
    const found: RecordedEvent[] = [];
    for await (const page of readAllPages(ledger.store)) {
      for (const event of page) if (event.data.deviceId === deviceId) found.push(event);
    }
    return found;
  }

  it('signs heads anyone can check with the public key, and proves inclusion and consistency against them', async () => {
    const cam = id('cam');
    await ledger.client.registerDevice({ deviceId: cam, ownerId: id('alice'), actor: 'svc:p' });
    await ledger.client.grant(cam, { userId: id('bob'), actor: 'svc:p' });

    const first = await ledger.http('POST', '/v1/log/heads');
    expect(first.status).toBe(201);
    expect(Object.keys(first.body).sort()).toEqual([
      'keyId',
      'rootHash',
      'signature',
      'timestamp',
      'treeSize',
    ]);
    expect(first.body.rootHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await ledger.http('GET', '/v1/log/head')).body).toEqual(first.body);

    const pem = fs.readFileSync(path.join(ledger.config.dataDir, 'export-key.pem'), 'utf8');
    const publicKey = createPublicKey(pem);
    expect(
      verify(
        null,
        Buffer.from(signedText(first.body)),
        publicKey,
        Buffer.from(first.body.signature, 'base64'),
      ),
    ).toBe(true);

    await ledger.client.recordViews(
      [1, 2, 3].map((n) => ({
        viewerId: id('bob'),
        deviceId: cam,
        mediaId: `m-${n}`,
        mediaType: 'thumbnail',
        action: 'delivered',
        occurredAt: '2024-02-16T10:00:00.000Z',
      })),
    );
    const second = (await ledger.http('POST', '/v1/log/heads')).body;
    // The first head is itself a leaf of the second tree.
    expect(second.treeSize).toBeGreaterThan(first.body.treeSize + 3);
    expect((await ledger.http('GET', `/v1/log/head?treeSize=${first.body.treeSize}`)).body).toEqual(
      first.body,
    );

    for (const event of await eventsOfDevice(cam)) {
      const proof = await ledger.http(
        'GET',
        `/v1/log/proofs/inclusion?eventId=${event.eventId}&treeSize=${second.treeSize}`,
      );
      expect(proof.status).toBe(200);
      expect(proof.body.treeSize).toBe(second.treeSize);
      // The leaf is recomputed from the event by the test's own reading of the documented leaf bytes.
      expect(proof.body.leafHash).toBe(referenceLeafHash(referenceLeafBytes(event)));
      expect(
        referenceVerifyInclusion(
          proof.body.leafHash,
          proof.body.leafIndex,
          second.treeSize,
          proof.body.auditPath,
          second.rootHash,
        ),
      ).toBe(true);
    }

    const consistency = await ledger.http(
      'GET',
      `/v1/log/proofs/consistency?from=${first.body.treeSize}&to=${second.treeSize}`,
    );
    expect(consistency.status).toBe(200);
    expect(consistency.body.fromSize).toBe(first.body.treeSize);
    expect(
      referenceVerifyConsistency(
        first.body.treeSize,
        second.treeSize,
        consistency.body.proof,
        first.body.rootHash,
        second.rootHash,
      ),
    ).toBe(true);
    // The stand-alone verifier the docs give a third party (node:crypto only) agrees, and refuses an edited proof.
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-third-party-'));
    const file = (name: string, value: unknown) => {
      const at = path.join(work, name);
      fs.writeFileSync(
        at,
        Buffer.isBuffer(value) || typeof value === 'string' ? value : JSON.stringify(value),
      );
      return at;
    };
    const keyFile = file('ledger.pub.pem', publicKey.export({ type: 'spki', format: 'pem' }));
    const checkProof = (...args: string[]) =>
      spawnSync(process.execPath, [THIRD_PARTY_VERIFIER, ...args], { encoding: 'utf8' });
    const kept = file('kept.json', first.body);
    const now = file('now.json', second);
    const consistent = checkProof('consistency', keyFile, kept, now, file('proof.json', consistency.body));
    expect(consistent.stdout).toMatch(/^OK: the log of \d+ events extends the kept head of \d+/);
    expect(consistent.status).toBe(0);
    const edited = { ...consistency.body, proof: [...consistency.body.proof] };
    edited.proof[0] = edited.proof[0].replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    const refused = checkProof('consistency', keyFile, kept, now, file('edited.json', edited));
    expect(refused.stdout).toMatch(/^FAILED: the log of \d+ events does not extend the kept head/);
    expect(refused.status).toBe(1);
    const [event] = await eventsOfDevice(cam);
    const inclusion = await ledger.http(
      'GET',
      `/v1/log/proofs/inclusion?eventId=${event.eventId}&treeSize=${second.treeSize}`,
    );
    const included = checkProof(
      'inclusion',
      keyFile,
      now,
      file('inclusion.json', inclusion.body),
      file('leaf.bin', referenceLeafBytes(event)),
    );
    expect(included.stdout).toMatch(/^OK: leaf \d+ is in the tree of \d+ events signed/);
    expect(included.status).toBe(0);
    const foreignKey = file(
      'other.pub.pem',
      generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const unsigned = checkProof('consistency', foreignKey, kept, now, file('proof.json', consistency.body));
    expect(unsigned.stdout).toMatch(/^FAILED: the kept head's signature does not verify/);
    expect(unsigned.status).toBe(1);

    // Without `to`, the latest head is the newer tree.
    expect((await ledger.http('GET', `/v1/log/proofs/consistency?from=${first.body.treeSize}`)).body).toEqual(
      consistency.body,
    );
  });

  it('answers 400 for malformed sizes and ids, 404 for what the tree does not hold, and needs audit:export', async () => {
    for (const url of [
      '/v1/log/head?treeSize=-1',
      '/v1/log/head?treeSize=1.5',
      '/v1/log/proofs/inclusion?eventId=not-a-uuid',
      '/v1/log/proofs/inclusion',
      '/v1/log/proofs/consistency?from=x',
      '/v1/log/proofs/consistency',
      '/v1/log/head?unknown=1',
    ]) {
      const response = await ledger.http('GET', url);
      expect([url, response.status]).toEqual([url, 400]);
    }
    await ledger.http('POST', '/v1/log/heads');
    const latest = (await ledger.http('GET', '/v1/log/head')).body;
    for (const url of [
      '/v1/log/proofs/inclusion?eventId=00000000-0000-4000-8000-000000000000',
      `/v1/log/head?treeSize=${latest.treeSize + 1}`,
      `/v1/log/proofs/consistency?from=1&to=${latest.treeSize + 10_000_000}`,
      `/v1/log/proofs/consistency?from=${latest.treeSize + 1}&to=${latest.treeSize}`,
    ]) {
      const response = await ledger.http('GET', url);
      expect([url, response.status]).toEqual([url, 404]);
    }
    expect((await ledger.http('GET', '/v1/log/head', undefined, { authorization: '' })).status).toBe(401);
  });

  it('reports the tree in readiness and /metrics while the log is intact', async () => {
    const ready = await ledger.http('GET', '/health', undefined, { authorization: '' });
    expect(ready.status).toBe(200);
    expect(ready.body.info.logIntegrity).toMatchObject({ status: 'up', state: 'intact' });
    const metrics = await (await fetch(`${ledger.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ledger_log_tampered 0$/m);
    expect(metrics).toMatch(/^ledger_log_tree_size [1-9]\d*$/m);
  });

  it('cuts an export at a signed head carried in its manifest; every record is provably a leaf of that tree', async () => {
    const cam = id('export-cam');
    await ledger.client.registerDevice({ deviceId: cam, ownerId: id('carol'), actor: 'svc:p' });
    await ledger.client.grant(cam, { userId: id('dave'), actor: 'svc:p' });
    const response = await fetch(`${ledger.baseUrl}/v1/audit/trail?deviceId=${cam}`, {
      headers: { authorization: `Bearer ${ledger.apiKey}` },
    });
    const text = await response.text();
    const lines = text.trim().split('\n');
    const manifest = (JSON.parse(lines[lines.length - 1]) as { manifest: Manifest }).manifest;
    const treeHead = manifest.treeHead!;
    expect(treeHead.keyId).toBe(manifest.keyId);
    expect((await ledger.http('GET', `/v1/log/head?treeSize=${treeHead.treeSize}`)).body).toEqual(treeHead);
    const key = loadLedgerPublicKey(ledger.config);
    expect(await verifyExport(chunksOf(text), key)).toMatchObject({ ok: true, count: 2 });

    expect(manifest.proofs).toBe('inclusion');
    const stored = new Map((await eventsOfDevice(cam)).map((event) => [event.eventId, event]));
    const body = lines.slice(0, -1);
    for (let i = 0; i < body.length; i += 2) {
      const record = JSON.parse(body[i]) as { eventId: string };
      // The proof the export carries, checked by the independent implementation, matches the API's.
      const { inclusion } = JSON.parse(body[i + 1]) as {
        inclusion: { leafIndex: number; leaf: string; auditPath: string[] };
      };
      const carriedLeaf = referenceLeafHash(Buffer.from(inclusion.leaf, 'utf8'));
      expect(carriedLeaf).toBe(referenceLeafHash(referenceLeafBytes(stored.get(record.eventId)!)));
      expect(
        referenceVerifyInclusion(
          carriedLeaf,
          inclusion.leafIndex,
          treeHead.treeSize,
          inclusion.auditPath,
          treeHead.rootHash,
        ),
      ).toBe(true);
      const proof = await ledger.http(
        'GET',
        `/v1/log/proofs/inclusion?eventId=${record.eventId}&treeSize=${treeHead.treeSize}`,
      );
      expect(proof.body).toMatchObject({ leafIndex: inclusion.leafIndex, auditPath: inclusion.auditPath });
      expect(proof.body.leafHash).toBe(referenceLeafHash(referenceLeafBytes(stored.get(record.eventId)!)));
      expect(
        referenceVerifyInclusion(
          proof.body.leafHash,
          proof.body.leafIndex,
          treeHead.treeSize,
          proof.body.auditPath,
          treeHead.rootHash,
        ),
      ).toBe(true);
    }

    // A head swapped for one signed by another key fails verification, even under a valid manifest signature.
    const { generateKeyPairSync, sign } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ed25519');
    const alien = signTreeHead(treeHead.treeSize, treeHead.rootHash, treeHead.timestamp, {
      keyId: treeHead.keyId,
      sign: (t) => sign(null, Buffer.from(t), privateKey).toString('base64'),
    });
    const { signature: _signature, ...unsigned } = manifest;
    const resigned = signManifest({ ...unsigned, treeHead: alien }, loadExportSigner(ledger.config));
    const edited = [...lines.slice(0, -1), `{"manifest":${manifestJson(resigned)}}`].join('\n') + '\n';
    expect(await verifyExport(chunksOf(edited), key)).toMatchObject({ ok: false, kind: 'bad_signature' });
  });

  it('signs no head for an export it refuses (a rejected request appends nothing)', async () => {
    const before = await ledger.head();
    const refused = await ledger.http(
      'GET',
      `/v1/audit/trail?deviceId=${id('cam')}&from=2024-02-17T00:00:00.000Z&to=2024-02-16T00:00:00.000Z`,
    );
    expect(refused.status).toBe(400);
    expect(await ledger.head()).toEqual(before);
  });
});

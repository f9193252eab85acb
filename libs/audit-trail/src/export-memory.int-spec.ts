import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '@ledger/config';
import { openEventStore, type EventStore } from '@ledger/event-store';
import { headKeyOf, headSignerOf, recomputeTree, signTreeHead, toHex } from '@ledger/log-integrity';
import { loadExportSigner, type ExportSigner } from './export-key';
import { exportTrail, type ExportOptions } from './export-trail';
import { verifyExport } from './verify-export';
import { writeBulkViews } from './testing/bulk-views';

const RECORDS = 200_000;
/** With a proof after each record an export is about four times larger: fewer records make as large a file. */
const RECORDS_WITH_PROOFS = 40_000;
const MiB = 1024 * 1024;
/** Far below the export's own size (about 100 MiB), far above what streaming needs. */
const RETAINED_HEAP_BOUND = 48 * MiB;

/** A collectable heap measurement: what is still reachable, not what the collector has yet to sweep. */
function retainedHeap(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

describe('exporting a large trail in constant memory', () => {
  let dataDir: string;
  let store: EventStore;
  let signer: ExportSigner;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trail-memory-'));
    store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    signer = loadExportSigner(loadConfig({ LEDGER_DATA_DIR: dataDir }));
    await writeBulkViews(store, { deviceId: 'cam-busy', ownerId: 'alice', count: RECORDS });
  }, 600_000);
  afterAll(async () => {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it(`exports ${RECORDS} records of a user trail without holding them, then verifies the file streaming`, async () => {
    const file = path.join(dataDir, 'alice.ndjson');
    const out = fs.createWriteStream(file);
    const baseline = retainedHeap();
    let peak = 0;
    let chunks = 0;
    let bytes = 0;
    const summary = await exportTrail(store, { userId: 'alice' }, 'ndjson', signer, async (chunk) => {
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      if (++chunks % 100 === 0) peak = Math.max(peak, retainedHeap() - baseline);
    });
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    expect(summary.count).toBe(RECORDS + 1);
    expect(bytes).toBeGreaterThan(RETAINED_HEAP_BOUND * 1.5);
    expect(chunks).toBeGreaterThan(1000);
    expect(peak).toBeLessThan(RETAINED_HEAP_BOUND);

    let verifyPeak = 0;
    let read = 0;
    async function* sampled(): AsyncGenerator<Buffer> {
      for await (const chunk of fs.createReadStream(file)) {
        yield chunk as Buffer;
        if (++read % 100 === 0) verifyPeak = Math.max(verifyPeak, retainedHeap() - baseline);
      }
    }
    const result = await verifyExport(sampled(), signer.publicKey);
    expect(result).toMatchObject({ ok: true, count: RECORDS + 1 });
    expect(verifyPeak).toBeLessThan(RETAINED_HEAP_BOUND);
  }, 600_000);
});

describe('exporting a trail with an inclusion proof after every record in constant memory', () => {
  let dataDir: string;
  let store: EventStore;
  let signer: ExportSigner;
  /** Cut at a signed head with the tree (the service's memory, not the export's). */
  let cutAt: NonNullable<ExportOptions['cutAt']>;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trail-memory-proofs-'));
    store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    signer = loadExportSigner(loadConfig({ LEDGER_DATA_DIR: dataDir }));
    await writeBulkViews(store, { deviceId: 'cam-busy', ownerId: 'alice', count: RECORDS_WITH_PROOFS });
    const checker = await recomputeTree(store, headKeyOf(signer.publicKey));
    cutAt = {
      treeHead: signTreeHead(
        checker.size,
        toHex(checker.tree.root()),
        new Date().toISOString(),
        headSignerOf(signer),
      ),
      upTo: checker.positionOf(checker.size - 1),
      tree: checker.snapshot(),
    };
  }, 600_000);
  afterAll(async () => {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it(`exports ${RECORDS_WITH_PROOFS} records with their proofs without holding them, then verifies them streaming`, async () => {
    const file = path.join(dataDir, 'cam.ndjson');
    const out = fs.createWriteStream(file);
    const baseline = retainedHeap();
    let peak = 0;
    let chunks = 0;
    let bytes = 0;
    const summary = await exportTrail(
      store,
      { deviceId: 'cam-busy' },
      'ndjson',
      signer,
      async (chunk) => {
        bytes += Buffer.byteLength(chunk);
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
        if (++chunks % 100 === 0) peak = Math.max(peak, retainedHeap() - baseline);
      },
      { cutAt },
    );
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    expect(summary.manifest.proofs).toBe('inclusion');
    expect(bytes).toBeGreaterThan(RETAINED_HEAP_BOUND * 1.5);
    expect(peak).toBeLessThan(RETAINED_HEAP_BOUND);

    let verifyPeak = 0;
    let read = 0;
    async function* sampled(): AsyncGenerator<Buffer> {
      for await (const chunk of fs.createReadStream(file)) {
        yield chunk as Buffer;
        if (++read % 100 === 0) verifyPeak = Math.max(verifyPeak, retainedHeap() - baseline);
      }
    }
    const result = await verifyExport(sampled(), signer.publicKey);
    expect(result).toMatchObject({ ok: true, count: summary.count, manifest: { proofs: 'inclusion' } });
    expect(verifyPeak).toBeLessThan(RETAINED_HEAP_BOUND);
  }, 600_000);
});

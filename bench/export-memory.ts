import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '@ledger/config';
import { openEventStore, START, type EventStore, type LogPosition } from '@ledger/event-store';
import { exportTrail, loadExportSigner, verifyExport } from '@ledger/audit-trail';
import { writeBulkViews } from '../libs/audit-trail/src/testing/bulk-views';

/**
 * `node dist/bench/export-memory.js [--records N] [--data-dir DIR] [--keep]`
 *
 * Peak memory of exporting (and verifying) a user trail of N records (default 1,000,000) against the baseline
 * of a plain `$all` scan of the same log. Each measurement runs in a fresh child process, so its peak RSS
 * (the kernel's high-water mark) belongs to that phase alone. Nothing is asserted: it prints a table.
 */

const OWNER = 'bench-owner';
const DEVICE = 'bench-cam';
const PAGE_SIZE = 1000;
const MiB = 1024 * 1024;

type Phase = 'scan' | 'export' | 'verify';

interface Measurement {
  readonly phase: Phase;
  readonly items: number;
  readonly seconds: number;
  readonly peakHeapMiB: number;
  readonly peakRssMiB: number;
  readonly maxRssMiB: number;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

class Sampler {
  private peakHeap = 0;
  private peakRss = 0;
  private readonly started = process.hrtime.bigint();

  sample(): void {
    const usage = process.memoryUsage();
    this.peakHeap = Math.max(this.peakHeap, usage.heapUsed);
    this.peakRss = Math.max(this.peakRss, usage.rss);
  }

  result(phase: Phase, items: number): Measurement {
    this.sample();
    return {
      phase,
      items,
      seconds: Number(process.hrtime.bigint() - this.started) / 1e9,
      peakHeapMiB: this.peakHeap / MiB,
      peakRssMiB: this.peakRss / MiB,
      // resourceUsage reports kilobytes.
      maxRssMiB: (process.resourceUsage().maxRSS * 1024) / MiB,
    };
  }
}

async function scan(store: EventStore): Promise<Measurement> {
  const sampler = new Sampler();
  let from: LogPosition | 'end' = START;
  let count = 0;
  for (;;) {
    const page = await store.readAll({ from, direction: 'forwards', maxCount: PAGE_SIZE });
    count += page.events.length;
    sampler.sample();
    if (page.isEnd || page.next === 'end' || page.events.length === 0) break;
    from = page.next;
  }
  return sampler.result('scan', count);
}

async function runPhase(phase: Phase, dataDir: string): Promise<Measurement> {
  const config = loadConfig({ LEDGER_DATA_DIR: dataDir });
  const file = path.join(dataDir, 'trail.ndjson');
  if (phase === 'verify') {
    const sampler = new Sampler();
    let chunks = 0;
    async function* sampled(): AsyncGenerator<Buffer> {
      for await (const chunk of fs.createReadStream(file)) {
        if (++chunks % 16 === 0) sampler.sample();
        yield chunk as Buffer;
      }
    }
    const result = await verifyExport(sampled(), loadExportSigner(config).publicKey);
    if (!result.ok) throw new Error(`verification failed: ${result.message}`);
    return sampler.result('verify', result.count);
  }
  const store = await openEventStore(config);
  try {
    if (phase === 'scan') return await scan(store);
    const sampler = new Sampler();
    const out = fs.createWriteStream(file);
    const summary = await exportTrail(
      store,
      { userId: OWNER },
      'ndjson',
      loadExportSigner(config),
      async (chunk) => {
        sampler.sample();
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      },
    );
    await new Promise<void>((resolve) => out.end(() => resolve()));
    return sampler.result('export', summary.count);
  } finally {
    await store.close();
  }
}

function measureInChild(phase: Phase, dataDir: string): Measurement {
  const child = spawnSync(process.execPath, [__filename, '--phase', phase, '--data-dir', dataDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`${phase} phase exited with ${child.status}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() as string) as Measurement;
}

async function main(): Promise<void> {
  const phase = argument('--phase') as Phase | undefined;
  const given = argument('--data-dir');
  if (phase !== undefined) {
    if (!given) throw new Error('--phase needs --data-dir');
    process.stdout.write(`${JSON.stringify(await runPhase(phase, given))}\n`);
    return;
  }
  const records = Number(argument('--records') ?? 1_000_000);
  if (!Number.isSafeInteger(records) || records < 1) throw new Error('--records must be a positive integer');
  const dataDir = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-export-memory-'));
  try {
    const store = await openEventStore(loadConfig({ LEDGER_DATA_DIR: dataDir }));
    const empty =
      (await store.readAll({ from: START, direction: 'forwards', maxCount: 1 })).events.length === 0;
    if (empty) {
      process.stderr.write(`writing ${records} views of one device into ${dataDir}…\n`);
      await writeBulkViews(store, {
        deviceId: DEVICE,
        ownerId: OWNER,
        count: records,
        onProgress: (written) => {
          if (written % 100_000 === 0) process.stderr.write(`  ${written}\n`);
        },
      });
    }
    await store.close();

    const rows = (['scan', 'export', 'verify'] as const).map((p) => measureInChild(p, dataDir));
    const baseline = rows[0];
    const pad = (text: string, width: number): string => text.padStart(width);
    process.stdout.write(
      `${pad('phase', 8)}${pad('items', 10)}${pad('seconds', 10)}${pad('peak heap MiB', 15)}` +
        `${pad('peak RSS MiB', 14)}${pad('max RSS MiB', 13)}${pad('RSS vs scan', 13)}\n`,
    );
    for (const row of rows) {
      process.stdout.write(
        `${pad(row.phase, 8)}${pad(String(row.items), 10)}${pad(row.seconds.toFixed(1), 10)}` +
          `${pad(row.peakHeapMiB.toFixed(1), 15)}${pad(row.peakRssMiB.toFixed(1), 14)}` +
          `${pad(row.maxRssMiB.toFixed(1), 13)}${pad(`${(row.maxRssMiB / baseline.maxRssMiB).toFixed(2)}x`, 13)}\n`,
      );
    }
    const trail = fs.statSync(path.join(dataDir, 'trail.ndjson')).size;
    process.stdout.write(`export file: ${(trail / MiB).toFixed(1)} MiB for ${rows[1].items} records\n`);
  } finally {
    if (!given && !process.argv.includes('--keep')) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

/**
 * One-off measurement (issue 16 item 2): how long a restart spends loading the projection snapshot, at a given
 * number of relationships, beside what applying the same relationships' events from zero costs in the same
 * process. Run after `npm run build`:
 *
 *   node --max-old-space-size=12288 dist/bench/snapshot-load.js 1000000
 *   node --max-old-space-size=12288 dist/bench/snapshot-load.js 10000000
 *
 * The snapshot is authenticated (HMAC under a derived key), as a keyed service writes and reads it. It is loaded
 * in a fresh process, as a restart loads it: loaded beside the table that wrote it, every collection would also
 * mark that table (at 10M, 10 s of CPU instead of 3).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  deriveSnapshotKey,
  IdempotencyIndex,
  loadSnapshot,
  RelationshipTable,
  writeSnapshot,
} from '@ledger/projections';
import { recordedHistory, type FleetShape } from './lib/fixtures';

interface Mark {
  readonly wall: bigint;
  readonly cpu: NodeJS.CpuUsage;
}

function mark(): Mark {
  return { wall: process.hrtime.bigint(), cpu: process.cpuUsage() };
}

/** Wall and CPU seconds since `since`: on a shared machine the CPU time is the steadier of the two. */
function since(start: Mark): { wall: number; cpu: number } {
  const cpu = process.cpuUsage(start.cpu);
  return {
    wall: Number((Number(process.hrtime.bigint() - start.wall) / 1e9).toFixed(2)),
    cpu: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
  };
}

async function main(): Promise<void> {
  const relationships = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isInteger(relationships) || relationships < 4)
    throw new Error('usage: snapshot-load <relationships>');
  // The memory suite's shape: an owner and three viewers per device.
  const devices = Math.floor(relationships / 4);
  const shape: FleetShape = { devices, users: devices * 2, viewersPerDevice: 3, revokeEvery: 0 };
  const key = deriveSnapshotKey('bench-snapshot-load');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-snapshot-load-'));
  try {
    let started = mark();
    const built = new RelationshipTable();
    let position = 0;
    for (let d = 0; d < devices; d++) {
      for (const event of recordedHistory(d, shape, position)) built.apply(event);
      position += 8;
    }
    const apply = since(started);
    const position64 = BigInt(position);
    started = mark();
    const file = await writeSnapshot(
      dir,
      'sqlite',
      { commit: position64, prepare: position64 },
      built,
      new IdempotencyIndex(),
      null,
      key,
    );
    const write = since(started);
    const digest = built.digest();
    const count = built.relationshipCount;

    const loaded = JSON.parse(
      execFileSync(process.execPath, [...process.execArgv, __filename, '--load', dir, digest], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    ) as { load: { wall: number; cpu: number }; peakRssBytes: number };
    const load = loaded.load;
    console.log(
      JSON.stringify({
        relationships: count,
        devices,
        snapshotBytes: fs.statSync(file).size,
        applyFromEventsSeconds: apply,
        writeSnapshotSeconds: write,
        loadSnapshotSeconds: load,
        loadProcessPeakRssBytes: loaded.peakRssBytes,
        loadAvg: os.loadavg().map((n) => Number(n.toFixed(1))),
      }),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The child: loads the snapshot in `dir` into a fresh table, checks its digest, prints the load's times. */
function loadOnly(dir: string, digest: string): void {
  const started = mark();
  const loaded = new RelationshipTable();
  const result = loadSnapshot(
    dir,
    'sqlite',
    loaded,
    new IdempotencyIndex(),
    deriveSnapshotKey('bench-snapshot-load'),
  );
  const load = since(started);
  if (result.kind !== 'loaded' || !result.authenticated) {
    throw new Error(`snapshot not loaded: ${JSON.stringify(result)}`);
  }
  if (loaded.digest() !== digest) throw new Error('the loaded table differs from the one written');
  process.stdout.write(JSON.stringify({ load, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

if (process.argv[2] === '--load') loadOnly(process.argv[3], process.argv[4]);
else void main();

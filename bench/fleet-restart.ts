/**
 * Full-scale measurement (issue 16 item 2): the service itself (`apps/ledger-api/src/main`, as `npm start` runs
 * it) started over a real log of N relationships — an owner and three viewers per device, written through
 * `ledger import` — from zero and then from the snapshot its previous run left. Run after `npm run build`:
 *
 *   node dist/bench/fleet-restart.js 1000000 10000000 [--keyless]
 *
 * The goal it checks: a start from the snapshot at the largest size under a start from zero at the smallest
 * (restart at 10M relationships under what a rebuild from zero costs at 1M). Each size's data dir is kept in
 * `bench/out/fleet-restart/<N>` and reused by the next run (the 10M import takes 30 minutes on 2 cores), so
 * delete it to measure the import again. `--keyless` starts the service without `LEDGER_EXPORT_KEY`, so the
 * start from the snapshot first checks it against every device event.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SNAPSHOT_FILE } from '@ledger/projections';
import { BENCH_API_KEY, BENCH_API_KEYS } from './lib/keys';
import { freePort, waitFor200 } from './lib/net';
import { projectRoot, runToExit, spawnNode } from './lib/node-child';
import { processCpuSeconds, processPeakRssGiB } from './lib/process-stat';

// A fixed 32-byte seed (64 hex digits): the snapshots a run leaves are authenticated under it by the next run.
const EXPORT_KEY = 'f1ee7e57a27c0de5eed0f1ee7e57a27c0de5eed0f1ee7e57a27c0de5eed0f1ee';
interface StartFigures {
  readonly start: string;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssGiB: number;
  readonly snapshot: string;
}

function deviceLines(device: number, devices: number): string {
  const occurredAt = (offsetMs: number) =>
    new Date(Date.UTC(2026, 0, 1) + device * 10 + offsetMs).toISOString();
  const owner = `owner-${device}`;
  let lines = `${JSON.stringify({ op: 'register', deviceId: `cam-${device}`, ownerId: owner, actor: 'svc:provisioning', occurredAt: occurredAt(0) })}\n`;
  for (let v = 0; v < 3; v++) {
    lines += `${JSON.stringify({ op: 'grant', deviceId: `cam-${device}`, userId: viewerOf(device, v, devices), actor: owner, occurredAt: occurredAt(v + 1) })}\n`;
  }
  return lines;
}

/** 1.2 viewers per device, so a viewer sees 2.5 devices on average, as shared family cameras do. */
function viewerOf(device: number, v: number, devices: number): string {
  return `viewer-${(device * 3 + v) % ((devices * 6) / 5)}`;
}

async function writeImportFile(file: string, devices: number): Promise<void> {
  const out = fs.createWriteStream(file);
  for (let d = 0; d < devices;) {
    let chunk = '';
    for (const end = Math.min(devices, d + 5000); d < end; d++) chunk += deviceLines(d, devices);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function procStat(pid: number): { cpuSeconds: number; peakRssGiB: number } {
  return { cpuSeconds: processCpuSeconds(pid) ?? 0, peakRssGiB: processPeakRssGiB(pid) };
}

/** Spawns the service, times it to /health 200, checks three answers against the fleet, stops it cleanly. */
async function startService(
  dataDir: string,
  devices: number,
  label: string,
  keyed: boolean,
): Promise<StartFigures> {
  const port = await freePort();
  const snapshotFile = path.join(dataDir, 'snapshots', SNAPSHOT_FILE);
  const snapshot = fs.existsSync(snapshotFile)
    ? `${(fs.statSync(snapshotFile).size / 1e6).toFixed(0)} MB`
    : 'none';
  const started = process.hrtime.bigint();
  const child = spawnNode('apps/ledger-api/src/main', [], {
    env: {
      LEDGER_DATA_DIR: dataDir,
      LEDGER_API_KEYS: BENCH_API_KEYS,
      LEDGER_EXPORT_KEY: keyed ? EXPORT_KEY : undefined,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  try {
    await waitFor200(`http://127.0.0.1:${port}/health`, 3_600_000, () => child.exitCode !== null, 200).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${output}`);
      },
    );
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { cpuSeconds } = procStat(child.pid!);
    const last = devices - 1;
    const expected: Array<[string, string, boolean]> = [
      [`owner-${last}`, `cam-${last}`, true],
      [viewerOf(last, 2, devices), `cam-${last}`, true],
      [viewerOf(0, 0, devices), `cam-${last}`, false],
    ];
    for (const [userId, deviceId, allowed] of expected) {
      const response = await fetch(`http://127.0.0.1:${port}/v1/check`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId, deviceId }),
      });
      const body = (await response.json()) as { allowed: boolean };
      if (response.status !== 200 || body.allowed !== allowed)
        throw new Error(
          `${label}: check ${userId} on ${deviceId} answered ${response.status} ${JSON.stringify(body)}`,
        );
    }
    // The snapshot a start writes once caught up is part of what the next start relies on: wait for it.
    await waitForQuietSnapshot(snapshotFile);
    const { peakRssGiB } = procStat(child.pid!);
    return { start: label, wallSeconds, cpuSeconds, peakRssGiB, snapshot };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** Resolves once the snapshot file has existed, unchanged, for two seconds. */
async function waitForQuietSnapshot(file: string): Promise<void> {
  let last = '';
  for (let stable = 0; stable < 4;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = fs.existsSync(file) ? `${fs.statSync(file).mtimeMs}:${fs.statSync(file).size}` : '';
    stable = now !== '' && now === last ? stable + 1 : 0;
    last = now;
  }
}

async function measureSize(relationships: number, keyless: boolean): Promise<StartFigures[]> {
  const devices = Math.floor(relationships / 4);
  const dir = path.join(projectRoot, 'bench', 'out', 'fleet-restart', String(relationships));
  const dataDir = path.join(dir, 'data');
  const marker = path.join(dir, 'imported.json');
  const env = { LEDGER_DATA_DIR: dataDir, LEDGER_API_KEYS: BENCH_API_KEYS, LOG_LEVEL: 'warn' };
  if (!fs.existsSync(marker)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'fleet.ndjson');
    await writeImportFile(file, devices);
    const started = process.hrtime.bigint();
    await runToExit('apps/ledger-cli/src/main', ['import', file], { env });
    const importSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    fs.rmSync(file);
    fs.writeFileSync(marker, JSON.stringify({ relationships, devices, events: devices * 4, importSeconds }));
    console.error(
      `${relationships} relationships: imported ${devices * 4} events in ${importSeconds.toFixed(0)} s`,
    );
  }
  fs.rmSync(path.join(dataDir, 'snapshots'), { recursive: true, force: true });
  // Keyless, the second start finds the checksum-only snapshot the first left and checks it against every
  // device event before serving it (a keyed snapshot would be discarded by a keyless start, not checked).
  const suffix = keyless ? ', no LEDGER_EXPORT_KEY' : '';
  const figures = [
    await startService(dataDir, devices, `from zero${suffix}`, !keyless),
    await startService(dataDir, devices, `from its snapshot${suffix}`, !keyless),
  ];
  for (const f of figures) console.error(`${relationships} relationships, ${f.start}: ${JSON.stringify(f)}`);
  return figures;
}

async function main(): Promise<void> {
  const keyless = process.argv.includes('--keyless');
  const sizes = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('--'))
    .map(Number);
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 4))
    throw new Error('usage: fleet-restart <relationships>... [--keyless]');
  sizes.sort((a, b) => a - b);
  const rows: string[] = [];
  const bySize = new Map<number, StartFigures[]>();
  for (const size of sizes) {
    const figures = await measureSize(size, keyless);
    bySize.set(size, figures);
    for (const f of figures)
      rows.push(
        `| ${size.toLocaleString('en')} | ${f.start} | ${f.snapshot} | ${f.wallSeconds.toFixed(1)} s | ${f.cpuSeconds.toFixed(1)} s | ${f.peakRssGiB.toFixed(2)} GiB |`,
      );
  }
  console.log('| relationships | start | snapshot on disk | spawn → /health 200 | CPU | peak RSS |');
  console.log('|---:|---|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
  const fromZero = bySize.get(sizes[0])![0];
  const fromSnapshot = bySize.get(sizes[sizes.length - 1])![1];
  console.log(
    `\nrestart at ${sizes[sizes.length - 1].toLocaleString('en')} from its snapshot vs from zero at ${sizes[0].toLocaleString('en')}: ` +
      `wall ${(fromZero.wallSeconds / fromSnapshot.wallSeconds).toFixed(2)}×, CPU ${(fromZero.cpuSeconds / fromSnapshot.cpuSeconds).toFixed(2)}× (≥ 1: goal met)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadResult, LoadSpec } from '../children/autocannon-run';
import { deviceId, ownerOf, userId, viewerOf, type FleetShape } from '../lib/fixtures';
import { BENCH_API_KEY, BENCH_API_KEYS } from '../lib/keys';
import { freePort, waitFor200 } from '../lib/net';
import { runChild, spawnNode } from '../lib/node-child';
import { paired, result } from '../lib/stats';
import type { Suite } from '../lib/types';

/** The devices and users of the shared 1M-event log (bench/run.ts builds it with this shape). */
const FLEET: FleetShape = { devices: 100_000, users: 200_000, viewersPerDevice: 2, revokeEvery: 10 };
/** Same fixed rate and connections as check.http's latency measurement. */
const RATE = 500;
const CONNECTIONS = 8;

async function load(
  baseUrl: string,
  workDir: string,
  spec: Omit<LoadSpec, 'url' | 'apiKey'>,
): Promise<LoadResult> {
  const file = path.join(workDir, `during-replay-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...spec, url: baseUrl, apiKey: BENCH_API_KEY }));
  try {
    const outcome = await runChild<LoadResult>('bench/children/autocannon-run', [file]);
    if (outcome.non2xx > 0 || outcome.errors > 0) {
      throw new Error(`${spec.path}: ${outcome.non2xx} non-2xx answers and ${outcome.errors} errors`);
    }
    return outcome;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * check.http.during-replay: p99 of POST /v1/check at a fixed rate while `POST /v1/audit/replay` replays the
 * whole 1M-event log on the same service, against the p99 of the same load with the service idle, in one run.
 * The replay runs on the service's audit worker; the figure is idle ÷ during (1 = checks do not notice it).
 */
export const checkHttpDuringReplay: Suite = async (context, log) => {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawnNode('apps/ledger-api/src/main', [], {
    env: {
      LEDGER_DATA_DIR: context.fleetLogDir,
      LEDGER_API_KEYS: BENCH_API_KEYS,
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    profileDir: context.profileDir,
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor200(`${baseUrl}/health`, 300_000, () => child.exitCode !== null);
    const bodies: string[] = [];
    for (let i = 0; i < 32; i++) {
      const d = (i * 3079) % FLEET.devices;
      const user =
        i % 3 === 0 ? ownerOf(d, FLEET) : i % 3 === 1 ? viewerOf(d, 1, FLEET) : (i * 7919) % FLEET.users;
      bodies.push(JSON.stringify({ userId: userId(user), deviceId: deviceId(d) }));
    }
    const seconds = context.quick ? 5 : 8;
    const spec = { path: '/v1/check', bodies, connections: CONNECTIONS, overallRate: RATE };
    await load(baseUrl, context.workDir, { ...spec, durationSeconds: 2 });
    const p99 = paired();
    const idle = await load(baseUrl, context.workDir, { ...spec, durationSeconds: seconds });

    const replayStarted = Date.now();
    let replayEnded = 0;
    const replay = fetch(`${baseUrl}/v1/audit/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' },
      body: '{}',
    }).then(async (response) => {
      const text = await response.text();
      replayEnded = Date.now();
      if (response.status !== 200)
        throw new Error(`the replay answered ${response.status}: ${text.slice(0, 200)}`);
      return JSON.parse(text) as { summary: { viewsExamined: number; exposures: number } };
    });
    const during = await load(baseUrl, context.workDir, { ...spec, durationSeconds: seconds });
    const loadEnded = Date.now();
    const report = await replay;
    const overlapped = replayEnded === 0 || replayEnded >= loadEnded;
    p99.ours.push(Math.max(during.p99, 0.1));
    p99.theirs.push(Math.max(idle.p99, 0.1));
    const replayMs = replayEnded - replayStarted;
    log(
      `check p99 idle ${idle.p99} ms, during the replay ${during.p99} ms (p50 ${idle.p50} / ${during.p50} ms); ` +
        `replay of ${report.summary.viewsExamined} views took ${replayMs} ms` +
        (overlapped ? '' : ' and ended before the load did'),
    );
    return {
      results: [
        result(
          'check.http.during-replay',
          `ms p99 at ${RATE} req/s`,
          'the same check load on the same service while it is idle',
          p99,
          false,
        ),
      ],
      notes: [
        `check.http.during-replay: ${RATE} checks/s over ${CONNECTIONS} connections for ${seconds} s, idle and then while ` +
          `POST /v1/audit/replay replayed the whole 1M-event log (${report.summary.viewsExamined.toLocaleString('en-US')} views, ` +
          `${report.summary.exposures.toLocaleString('en-US')} exposures, ${replayMs} ms, on the service's audit worker); ` +
          `one run; ${overlapped ? 'the replay covered the whole measurement' : 'the replay ended before the measurement did'}.`,
      ],
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
};

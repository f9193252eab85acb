import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadResult, LoadSpec } from '../children/autocannon-run';
import { deviceId, ownerOf, userId, viewerOf, viewInput, type FleetShape } from '../lib/fixtures';
import { runChild, startChild } from '../lib/node-child';
import { paired, result } from '../lib/stats';
import type { Suite, SuiteContext } from '../lib/types';

interface Server {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Where load specs are written for the load process. */
  readonly specDir: string;
}

const CHECK_FLEET: FleetShape = { devices: 20_000, users: 40_000, viewersPerDevice: 2, revokeEvery: 10 };
/** The fixed rate of the latency measurement: well under either route's capacity on a 2-core machine. */
const LATENCY_RATE = 500;
const VIEWS_PER_BATCH = 1000;

async function withServer<T>(
  context: SuiteContext,
  fleet: FleetShape | null,
  work: (server: Server) => Promise<T>,
): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(context.workDir, 'http-'));
  const running = await startChild<Omit<Server, 'specDir'>>(
    'bench/children/ledger-server',
    [JSON.stringify({ dataDir, fleet })],
    { ipc: true, profileDir: context.profileDir },
  );
  try {
    return await work({ ...running.info, specDir: context.workDir });
  } finally {
    await running.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * autocannon from its own process; a run with any non-2xx answer or error is refused. The spec travels in a
 * file: request bodies of a thousand views are too big for a command line.
 */
async function load(server: Server, spec: Omit<LoadSpec, 'url' | 'apiKey'>): Promise<LoadResult> {
  const file = path.join(server.specDir, `load-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...spec, url: server.baseUrl, apiKey: server.apiKey }));
  let outcome: LoadResult;
  try {
    outcome = await runChild<LoadResult>('bench/children/autocannon-run', [file]);
  } finally {
    fs.rmSync(file, { force: true });
  }
  if (outcome.non2xx > 0 || outcome.errors > 0) {
    throw new Error(`${spec.path}: ${outcome.non2xx} non-2xx answers and ${outcome.errors} errors`);
  }
  return outcome;
}

/**
 * check.http: POST /v1/check against a bare route on the same server stack, throughput from 32 connections,
 * then p50/p99 latency of both at a fixed rate. Load from another process (autocannon).
 */
export const checkHttp: Suite = async (context, log) =>
  withServer(context, CHECK_FLEET, async (server) => {
    const bodies: string[] = [];
    for (let i = 0; i < 32; i++) {
      const d = (i * 613) % CHECK_FLEET.devices;
      const user =
        i % 4 === 0
          ? ownerOf(d, CHECK_FLEET)
          : i % 4 === 1
            ? viewerOf(d, 1, CHECK_FLEET)
            : (i * 7919) % CHECK_FLEET.users;
      bodies.push(JSON.stringify({ userId: userId(user), deviceId: deviceId(d) }));
    }
    const seconds = context.quick ? 5 : 10;
    const routes = { ours: '/v1/check', bare: '/bench/bare/check' } as const;
    for (const route of Object.values(routes))
      await load(server, { path: route, bodies, connections: 32, durationSeconds: 3 });
    const throughput = paired();
    const p50 = paired();
    const p99 = paired();
    for (let round = 0; round < context.rounds; round++) {
      const order = round % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const);
      for (const side of order) {
        const outcome = await load(server, {
          path: routes[side],
          bodies,
          connections: 32,
          durationSeconds: seconds,
        });
        (side === 'ours' ? throughput.ours : throughput.theirs).push(outcome.requestsPerSec);
      }
      for (const side of order) {
        const outcome = await load(server, {
          path: routes[side],
          bodies,
          connections: 8,
          durationSeconds: seconds,
          overallRate: LATENCY_RATE,
        });
        (side === 'ours' ? p50.ours : p50.theirs).push(Math.max(outcome.p50, 0.1));
        (side === 'ours' ? p99.ours : p99.theirs).push(Math.max(outcome.p99, 0.1));
      }
      log(
        `round ${round + 1}: /v1/check ${Math.round(throughput.ours[round])}/s vs bare ${Math.round(throughput.theirs[round])}/s; ` +
          `p50 ${p50.ours[round]} vs ${p50.theirs[round]} ms, p99 ${p99.ours[round]} vs ${p99.theirs[round]} ms at ${LATENCY_RATE}/s`,
      );
    }
    const bare =
      'bare Nest route on the same server stack (guard, pipes, filter, pino-http, metrics hook), no DTO, no ledger';
    return {
      results: [
        result('check.http', 'checks/s', bare, throughput, true),
        result('check.http.p50', `ms at ${LATENCY_RATE} req/s`, bare, p50, false),
        result('check.http.p99', `ms at ${LATENCY_RATE} req/s`, bare, p99, false),
      ],
      notes: [
        `check.http: ${CHECK_FLEET.devices.toLocaleString('en-US')} devices in the projection; autocannon in another process, ` +
          `32 connections for ${seconds} s per measurement, then ${LATENCY_RATE} req/s over 8 connections for the latencies.`,
      ],
    };
  });

/**
 * ingest.http: views/s through POST /v1/views/batch (1000 views a request, 4 connections) against the bare
 * route accepting the same body on the same stack.
 */
export const ingestHttp: Suite = async (context, log) =>
  withServer(context, null, async (server) => {
    const shape: FleetShape = { devices: 20_000, users: 40_000, viewersPerDevice: 2, revokeEvery: 0 };
    const bodies = [0, 1].map((b) =>
      JSON.stringify({
        views: Array.from({ length: VIEWS_PER_BATCH }, (_, i) => viewInput(b * VIEWS_PER_BATCH + i, shape)),
      }),
    );
    const seconds = context.quick ? 5 : 10;
    const routes = { ours: '/v1/views/batch', bare: '/bench/bare/views/batch' } as const;
    for (const route of Object.values(routes))
      await load(server, { path: route, bodies, connections: 4, durationSeconds: 3 });
    const rounds = paired();
    for (let round = 0; round < context.rounds; round++) {
      const order = round % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const);
      for (const side of order) {
        const outcome = await load(server, {
          path: routes[side],
          bodies,
          connections: 4,
          durationSeconds: seconds,
        });
        (side === 'ours' ? rounds.ours : rounds.theirs).push(outcome.requestsPerSec * VIEWS_PER_BATCH);
      }
      log(
        `round ${round + 1}: /v1/views/batch ${Math.round(rounds.ours[round])} views/s vs bare ${Math.round(rounds.theirs[round])}`,
      );
    }
    return {
      results: [
        result(
          'ingest.http',
          'views/s',
          'bare Nest route on the same server stack accepting the same 1000-view body (parsed, not validated, not stored)',
          rounds,
          true,
        ),
      ],
      notes: [
        `ingest.http: ${VIEWS_PER_BATCH} views per request (${Math.round(bodies[0].length / 1024)} KiB), 4 connections, ` +
          `${seconds} s per measurement, autocannon in another process.`,
      ],
    };
  });

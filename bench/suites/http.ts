import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadResult, LoadSpec } from '../children/autocannon-run';
import type { NewEvent } from '@ledger/event-store';
import { deviceId, ownerOf, userId, viewerOf, viewEvents, viewInput, type FleetShape } from '../lib/fixtures';
import { runChild, startChild } from '../lib/node-child';
import { processCpuSeconds } from '../lib/process-stat';
import { paired, perSecond, result, type Paired } from '../lib/stats';
import type { BenchResult, Suite, SuiteContext } from '../lib/types';
import { throughStore } from './ingest-embedded';

/** Where autocannon sends its load. */
interface Target {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** The serving process, whose CPU time the throughput runs read. */
  readonly pid?: number;
}

export interface LedgerServer extends Target {
  readonly grpcAddress: string;
  /** Where load specs are written for the load process. */
  readonly specDir: string;
}

export const CHECK_FLEET: FleetShape = {
  devices: 20_000,
  users: 40_000,
  viewersPerDevice: 2,
  revokeEvery: 10,
};
/** The fixed rate of the latency measurements: well under every route's capacity on a 2-core machine. */
export const LATENCY_RATE = 500;
const VIEWS_PER_BATCH = 1000;

export async function withServer<T>(
  context: SuiteContext,
  fleet: FleetShape | null,
  work: (server: LedgerServer) => Promise<T>,
): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(context.workDir, 'http-'));
  const running = await startChild<Omit<LedgerServer, 'specDir'>>(
    'bench/children/ledger-server',
    [JSON.stringify({ dataDir, fleet })],
    { ipc: true, profileDir: context.profileDir },
  );
  try {
    return await work({ ...running.info, pid: running.child.pid, specDir: context.workDir });
  } finally {
    await running.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Raw Fastify in its own process, answering each path with the bytes the ledger answered it. */
async function withRawFastify<T>(
  routes: Record<string, { status: number; body: string }>,
  work: (target: Target) => Promise<T>,
): Promise<T> {
  const running = await startChild<{ baseUrl: string }>(
    'bench/children/raw-fastify-server',
    [JSON.stringify(routes)],
    { ipc: true },
  );
  try {
    return await work({ baseUrl: running.info.baseUrl, apiKey: 'none', pid: running.child.pid });
  } finally {
    await running.stop();
  }
}

/** One real answer of the ledger: the raw baseline sends the same bytes back. */
async function sampleAnswer(server: LedgerServer, route: string, body: string) {
  const response = await fetch(`${server.baseUrl}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, body: await response.text() };
}

/**
 * autocannon from its own process; a run with any non-2xx answer or error is refused. The spec travels in a
 * file: request bodies of a thousand views are too big for a command line.
 */
export async function load(
  target: Target,
  specDir: string,
  spec: Omit<LoadSpec, 'url' | 'apiKey'>,
): Promise<LoadResult> {
  const file = path.join(
    specDir,
    `load-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`,
  );
  fs.writeFileSync(file, JSON.stringify({ ...spec, url: target.baseUrl, apiKey: target.apiKey }));
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

type Baseline = 'bare' | 'raw' | 'durable';
type Side = 'ours' | Baseline;

interface RouteTarget {
  readonly target: Target;
  readonly path: string;
}

interface RouteComparison {
  readonly name: string;
  readonly unit: string;
  /**
   * The product's route, the bare Nest route beside it, the raw Fastify route (same path as ours) and, for a
   * route that writes, the peer doing the same durable write with Fastify and better-sqlite3 alone.
   */
  readonly routes: Record<'ours' | 'bare' | 'raw', RouteTarget> & { readonly durable?: RouteTarget };
  readonly bodies: readonly string[];
}

/** What each baseline is, as the results name it. */
const BASELINES: Record<Baseline, { suffix: string; text: string }> = {
  raw: {
    suffix: '',
    text: 'raw Fastify 5 route in its own process (no Nest, guard, validation, pino or metrics), same response bytes',
  },
  bare: {
    suffix: '.bare-nest',
    text: 'bare Nest route on the same server stack (guard, pipes, filter, pino-http, metrics hook), no DTO, no ledger',
  },
  durable: {
    suffix: '.durable-peer',
    text:
      'raw Fastify 5 + better-sqlite3 in its own process: in-memory role map, one row per view, one transaction ' +
      'per event-loop turn (WAL, synchronous=FULL), answered once committed, same response bytes',
  },
};

/**
 * Throughput from 32 connections, then p50/p99 at a fixed rate, for our route and each baseline (the bare Nest
 * route on the same stack, raw Fastify, and the durable peer when there is one), measured in turn in every round
 * (the order rotates, so drift is shared).
 */
async function compareRoutes(
  context: SuiteContext,
  log: (message: string) => void,
  specDir: string,
  comparison: RouteComparison,
): Promise<BenchResult[]> {
  const seconds = context.quick ? 3 : 10;
  const routes: Partial<Record<Side, RouteTarget>> = comparison.routes;
  const sides = (['ours', 'bare', 'raw', 'durable'] as const).filter((side) => routes[side] !== undefined);
  const baselines = sides.filter((side): side is Baseline => side !== 'ours');
  const run = (side: Side, extra: { connections: number; durationSeconds: number; overallRate?: number }) =>
    load(routes[side]!.target, specDir, { path: routes[side]!.path, bodies: comparison.bodies, ...extra });
  for (const side of sides) await run(side, { connections: 32, durationSeconds: 2 });
  const pairs = () => Object.fromEntries(baselines.map((b) => [b, paired()])) as Record<Baseline, Paired>;
  const throughput = pairs();
  // CPU per request of the whole serving process (every thread): a machine shared with other work moves the
  // throughput pair more than this one, which says what each request costs however the cores were shared. The
  // bare route shares our process, so it has none of its own.
  const cpu = pairs();
  const p50 = pairs();
  const p99 = pairs();
  const record = (pair: Record<Baseline, Paired>, side: Side, value: number) => {
    if (side === 'ours') for (const b of baselines) pair[b].ours.push(value);
    else pair[side].theirs.push(value);
  };
  for (let round = 0; round < context.rounds; round++) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]);
    const figures: Partial<Record<Side, string>> = {};
    for (const side of order) {
      const pid = side === 'bare' ? undefined : routes[side]!.target.pid;
      const cpuBefore = pid === undefined ? null : processCpuSeconds(pid);
      const outcome = await run(side, { connections: 32, durationSeconds: seconds });
      const cpuAfter = pid === undefined ? null : processCpuSeconds(pid);
      if (cpuBefore !== null && cpuAfter !== null && outcome.total > 0) {
        record(cpu, side, ((cpuAfter - cpuBefore) * 1e6) / outcome.total);
      }
      record(throughput, side, outcome.requestsPerSec);
      figures[side] = `${Math.round(outcome.requestsPerSec)}/s`;
    }
    // The bare route's latency says little the throughput pair does not; quick runs leave it out.
    for (const side of order.filter((s) => !(context.quick && s === 'bare'))) {
      const outcome = await run(side, {
        connections: 8,
        durationSeconds: seconds,
        overallRate: LATENCY_RATE,
      });
      record(p50, side, Math.max(outcome.p50, 0.1));
      record(p99, side, Math.max(outcome.p99, 0.1));
      figures[side] += ` p50 ${outcome.p50} p99 ${outcome.p99} ms`;
    }
    const named: Record<Side, string> = {
      ours: routes.ours!.path,
      bare: 'bare Nest',
      raw: 'raw Fastify',
      durable: 'durable peer',
    };
    log(`round ${round + 1}: ${sides.map((side) => `${named[side]} ${figures[side]}`).join('; ')}`);
  }
  const latency = `ms at ${LATENCY_RATE} req/s`;
  const { name, unit } = comparison;
  return baselines.flatMap((b) => {
    const { suffix, text } = BASELINES[b];
    // The bare route's p50 says nothing its p99 does not; its p99 is measured in full runs only.
    const latencies =
      b === 'bare'
        ? context.quick
          ? []
          : [result(`${name}${suffix}.p99`, latency, text, p99[b], false)]
        : [
            result(`${name}${suffix}.p50`, latency, text, p50[b], false),
            result(`${name}${suffix}.p99`, latency, text, p99[b], false),
          ];
    const cpuPerRequest =
      b !== 'bare' && cpu[b].ours.length === context.rounds && cpu[b].theirs.length === context.rounds
        ? [result(`${name}${suffix}.cpu`, 'µs CPU/request (all threads)', text, cpu[b], false)]
        : [];
    return [result(`${name}${suffix}`, unit, text, throughput[b], true), ...latencies, ...cpuPerRequest];
  });
}

/** Our route, the bare Nest route beside it on the same server, and raw Fastify answering at our route's path. */
function nestAndRaw(server: LedgerServer, raw: Target, route: string, bareRoute: string) {
  return {
    ours: { target: server, path: route },
    bare: { target: server, path: bareRoute },
    raw: { target: raw, path: route },
  };
}

function checkBodies(): string[] {
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
  return bodies;
}

/** Allowed authorizations only (owners and never-revoked viewers): a denial is a 403, which autocannon counts. */
export function authorizeBodies(): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < 32; i++) {
    const d = (i * 613) % CHECK_FLEET.devices;
    const viewer = i % 2 === 0 ? ownerOf(d, CHECK_FLEET) : viewerOf(d, 1, CHECK_FLEET);
    bodies.push(
      JSON.stringify({
        viewerId: userId(viewer),
        deviceId: deviceId(d),
        mediaId: `evt-${i}`,
        mediaType: i % 3 === 0 ? 'event_video' : 'thumbnail',
        action: i % 3 === 0 ? 'played' : 'delivered',
        servedBy: 'media-svc-1',
      }),
    );
  }
  return bodies;
}

/**
 * check.http: POST /v1/check against raw Fastify (the floor of Node HTTP) and against a bare route on the same
 * Nest stack (what the stack costs). Load from another process (autocannon).
 */
export const checkHttp: Suite = async (context, log) =>
  withServer(context, CHECK_FLEET, async (server) => {
    const bodies = checkBodies();
    const canned = await sampleAnswer(server, '/v1/check', bodies[1]);
    return withRawFastify({ '/v1/check': canned }, async (raw) => ({
      results: await compareRoutes(context, log, server.specDir, {
        name: 'check.http',
        unit: 'checks/s',
        bodies,
        routes: nestAndRaw(server, raw, '/v1/check', '/bench/bare/check'),
      }),
      notes: [
        `check.http: ${CHECK_FLEET.devices.toLocaleString('en-US')} devices in the projection; autocannon in another process, ` +
          `32 connections for ${context.quick ? 3 : 10} s per measurement, then ${LATENCY_RATE} req/s over 8 connections for the latencies; ` +
          `raw Fastify answers ${canned.body.length} bytes, the ledger's own answer.`,
      ],
    }));
  });

/**
 * authorize.http: POST /v1/media/authorize (a durable write per call) against the same two baselines, and against
 * the peer that makes the same durable write with Fastify and better-sqlite3 alone (authorize.http.durable-peer).
 */
export const authorizeHttp: Suite = async (context, log) =>
  withServer(context, CHECK_FLEET, async (server) => {
    const bodies = authorizeBodies();
    const canned = await sampleAnswer(server, '/v1/media/authorize', bodies[1]);
    return withRawFastify({ '/v1/media/authorize': canned }, (raw) =>
      withDurablePeer(context, canned, async (durable) => ({
        results: await compareRoutes(context, log, server.specDir, {
          name: 'authorize.http',
          unit: 'authorizations/s',
          bodies,
          routes: {
            ...nestAndRaw(server, raw, '/v1/media/authorize', '/bench/bare/media/authorize'),
            durable: { target: durable, path: '/v1/media/authorize' },
          },
        }),
        notes: [
          `authorize.http: every call decides at the head of the log and appends its view (group commit, synchronous=FULL); ` +
            `same connections and rates as check.http; raw Fastify and the durable peer answer ${canned.body.length} bytes.`,
        ],
      })),
    );
  });

/** The durable peer of an authorization (`raw-durable-authorize-server`) on a data dir of its own. */
async function withDurablePeer<T>(
  context: SuiteContext,
  answer: { status: number; body: string },
  work: (target: Target) => Promise<T>,
): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(context.workDir, 'durable-peer-'));
  const running = await startChild<{ baseUrl: string }>(
    'bench/children/raw-durable-authorize-server',
    [JSON.stringify({ dataDir, fleet: CHECK_FLEET, answer })],
    { ipc: true },
  );
  try {
    return await work({ baseUrl: running.info.baseUrl, apiKey: 'none', pid: running.child.pid });
  } finally {
    await running.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * ingest.http: views/s through POST /v1/views/batch (1000 views a request, 4 connections) against the store
 * port alone taking the same views the same way (ingest.embedded's path: 1000-view appends, 4 in flight),
 * measured in this process in the same round; and against the bare route accepting the same body on the
 * same stack (ingest.http.bare-nest).
 */
export const ingestHttp: Suite = async (context, log) =>
  withServer(context, null, async (server) => {
    const bodies = ingestBodies();
    const seconds = context.quick ? 5 : 10;
    const storeViews = context.quick ? 40_000 : 100_000;
    const storeBatches: NewEvent[][] = [];
    for (let i = 0; i < storeViews; i += VIEWS_PER_BATCH)
      storeBatches.push(viewEvents(i, VIEWS_PER_BATCH, INGEST_SHAPE));
    const routes = { ours: '/v1/views/batch', bare: '/bench/bare/views/batch' } as const;
    for (const route of Object.values(routes))
      await load(server, server.specDir, { path: route, bodies, connections: 4, durationSeconds: 3 });
    const vsBare = paired();
    const vsStore = paired();
    for (let round = 0; round < context.rounds; round++) {
      const order = round % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const);
      for (const side of order) {
        const outcome = await load(server, server.specDir, {
          path: routes[side],
          bodies,
          connections: 4,
          durationSeconds: seconds,
        });
        (side === 'ours' ? vsBare.ours : vsBare.theirs).push(outcome.requestsPerSec * VIEWS_PER_BATCH);
      }
      const dir = fs.mkdtempSync(path.join(context.workDir, 'ingest-store-'));
      try {
        const { ms } = await throughStore(dir, storeBatches);
        vsStore.theirs.push(perSecond(storeViews, ms));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      vsStore.ours.push(vsBare.ours[round]);
      log(
        `round ${round + 1}: /v1/views/batch ${Math.round(vsBare.ours[round])} views/s; store port ${Math.round(vsStore.theirs[round])}; bare route ${Math.round(vsBare.theirs[round])}`,
      );
    }
    return {
      results: [
        result(
          'ingest.http',
          'views/s',
          "the store port alone, same views, 1000-view appends 4 in flight (ingest.embedded's path), same round",
          vsStore,
          true,
        ),
        result(
          'ingest.http.bare-nest',
          'views/s',
          'bare Nest route on the same server stack accepting the same 1000-view body (parsed, not validated, not stored)',
          vsBare,
          true,
        ),
      ],
      notes: [
        `ingest.http: ${VIEWS_PER_BATCH} views per request (${Math.round(bodies[0].length / 1024)} KiB), 4 connections, ` +
          `${seconds} s per measurement, autocannon in another process; store port: ${storeViews.toLocaleString('en-US')} views per round.`,
      ],
    };
  });

const INGEST_SHAPE: FleetShape = { devices: 20_000, users: 40_000, viewersPerDevice: 2, revokeEvery: 0 };

export function ingestBodies(): string[] {
  const shape = INGEST_SHAPE;
  return [0, 1].map((b) =>
    JSON.stringify({
      views: Array.from({ length: VIEWS_PER_BATCH }, (_, i) => viewInput(b * VIEWS_PER_BATCH + i, shape)),
    }),
  );
}

export { VIEWS_PER_BATCH };

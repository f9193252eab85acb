import * as fs from 'node:fs';
import autocannon from 'autocannon';
import { reportResult } from '../lib/node-child';

/**
 * One autocannon run, in its own process so the load never shares an event loop with the server. Its argument
 * is a JSON file holding the spec.
 */
export interface LoadSpec {
  readonly url: string;
  readonly path: string;
  readonly apiKey: string;
  /** Request bodies, sent in turn on each connection. */
  readonly bodies: readonly string[];
  readonly connections: number;
  readonly durationSeconds: number;
  /** Fixed total request rate (requests/s) for latency measurements; absent: as fast as possible. */
  readonly overallRate?: number;
}

export interface LoadResult {
  readonly requestsPerSec: number;
  readonly total: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as LoadSpec;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    ...(spec.overallRate === undefined ? {} : { overallRate: spec.overallRate }),
    headers: { authorization: `Bearer ${spec.apiKey}`, 'content-type': 'application/json' },
    requests: spec.bodies.map((body) => ({ method: 'POST' as const, path: spec.path, body })),
  });
  const outcome: LoadResult = {
    requestsPerSec: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
  reportResult(outcome);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

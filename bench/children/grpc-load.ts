import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { LEDGER_SERVICE, loadLedgerPackage } from '@ledger/client';
import { reportResult } from '../lib/node-child';

/**
 * Unary gRPC load from its own process (autocannon speaks HTTP/1.1 only): `inFlight` calls kept outstanding,
 * spread over `channels` separate HTTP/2 connections, for `durationSeconds`. Requests are encoded once up
 * front and answers are not decoded, so the load process spends its CPU on the transport, not on protobuf.
 */
export interface GrpcLoadSpec {
  readonly address: string;
  readonly apiKey: string;
  readonly method: string;
  readonly requests: ReadonlyArray<Record<string, unknown>>;
  readonly channels: number;
  readonly inFlight: number;
  readonly durationSeconds: number;
}

export interface GrpcLoadResult {
  readonly callsPerSec: number;
  readonly total: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly firstError: string | null;
}

async function main(): Promise<void> {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as GrpcLoadSpec;
  const method = (loadLedgerPackage()[LEDGER_SERVICE] as grpc.ServiceDefinition)[spec.method];
  const encoded = spec.requests.map((request) => method.requestSerialize(request));
  const clients = Array.from(
    { length: spec.channels },
    // A distinct option per client keeps grpc-js from sharing one connection between them.
    (_, i) => new grpc.Client(spec.address, grpc.credentials.createInsecure(), { 'bench.channel': i }),
  );
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${spec.apiKey}`);
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve, reject) =>
          client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())),
        ),
    ),
  );
  const identity = (bytes: Buffer): Buffer => bytes;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let sent = 0;
  const ends = Date.now() + spec.durationSeconds * 1000;
  const started = process.hrtime.bigint();
  const worker = (index: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const client = clients[index % clients.length];
      const next = (): void => {
        if (Date.now() >= ends) return resolve();
        const body = encoded[sent++ % encoded.length];
        const t = process.hrtime.bigint();
        client.makeUnaryRequest(method.path, identity, identity, body, metadata, {}, (error) => {
          if (error) {
            errors++;
            firstError ??= `${grpc.status[error.code]}: ${error.details}`;
          } else latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
          next();
        });
      };
      next();
    });
  await Promise.all(Array.from({ length: spec.inFlight }, (_, i) => worker(i)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const client of clients) client.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const outcome: GrpcLoadResult = {
    callsPerSec: latencies.length / seconds,
    total: latencies.length,
    p50: at(0.5),
    p99: at(0.99),
    errors,
    firstError,
  };
  reportResult(outcome);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

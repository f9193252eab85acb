import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GrpcLoadResult, GrpcLoadSpec } from '../children/grpc-load';
import { deviceId, ownerOf, userId, viewerOf } from '../lib/fixtures';
import { runChild, startChild } from '../lib/node-child';
import { paired } from '../lib/stats';
import { result } from '../lib/stats';
import type { Suite } from '../lib/types';
import { CHECK_FLEET, withServer } from './http';

const CHANNELS = 4;
const IN_FLIGHT = 32;

async function grpcLoad(specDir: string, spec: GrpcLoadSpec): Promise<GrpcLoadResult> {
  const file = path.join(specDir, `grpc-load-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  let outcome: GrpcLoadResult;
  try {
    outcome = await runChild<GrpcLoadResult>('bench/children/grpc-load', [file]);
  } finally {
    fs.rmSync(file, { force: true });
  }
  if (outcome.errors > 0)
    throw new Error(`${spec.method}: ${outcome.errors} failed calls (${outcome.firstError})`);
  return outcome;
}

/**
 * check.grpc: the ledger's Check RPC against a raw @grpc/grpc-js unary handler serving the same service
 * definition in its own process. Load from a third process: 32 calls in flight over 4 HTTP/2 connections.
 */
export const checkGrpc: Suite = async (context, log) =>
  withServer(context, CHECK_FLEET, async (server) => {
    const requests = Array.from({ length: 32 }, (_, i) => {
      const d = (i * 613) % CHECK_FLEET.devices;
      const user =
        i % 4 === 0
          ? ownerOf(d, CHECK_FLEET)
          : i % 4 === 1
            ? viewerOf(d, 1, CHECK_FLEET)
            : (i * 7919) % CHECK_FLEET.users;
      return { userId: userId(user), deviceId: deviceId(d) };
    });
    const answer = await sampleCheck(server.grpcAddress, server.apiKey, requests[1]);
    const raw = await startChild<{ address: string }>(
      'bench/children/raw-grpc-server',
      [JSON.stringify(answer)],
      {
        ipc: true,
      },
    );
    try {
      const seconds = context.quick ? 3 : 10;
      const addresses = { ours: server.grpcAddress, raw: raw.info.address } as const;
      const run = (side: 'ours' | 'raw', durationSeconds: number) =>
        grpcLoad(server.specDir, {
          address: addresses[side],
          apiKey: server.apiKey,
          method: 'Check',
          requests,
          channels: CHANNELS,
          inFlight: IN_FLIGHT,
          durationSeconds,
        });
      await run('ours', 2);
      await run('raw', 2);
      const throughput = paired();
      const p99 = paired();
      for (let round = 0; round < context.rounds; round++) {
        const order = round % 2 === 0 ? (['ours', 'raw'] as const) : (['raw', 'ours'] as const);
        const figures: Record<string, string> = {};
        for (const side of order) {
          const outcome = await run(side, seconds);
          (side === 'ours' ? throughput.ours : throughput.theirs).push(outcome.callsPerSec);
          (side === 'ours' ? p99.ours : p99.theirs).push(Math.max(outcome.p99, 0.1));
          figures[side] =
            `${Math.round(outcome.callsPerSec)}/s (p50 ${outcome.p50.toFixed(2)}, p99 ${outcome.p99.toFixed(2)} ms)`;
        }
        log(`round ${round + 1}: Check ${figures.ours} vs raw grpc-js ${figures.raw}`);
      }
      const baseline =
        'raw @grpc/grpc-js unary handler (same .proto, fixed answer, no auth or validation) in its own process';
      return {
        results: [
          result('check.grpc', 'checks/s', baseline, throughput, true),
          result('check.grpc.p99', `ms with ${IN_FLIGHT} calls in flight`, baseline, p99, false),
        ],
        notes: [
          `check.grpc: ${IN_FLIGHT} unary calls in flight over ${CHANNELS} HTTP/2 connections from a load process, ` +
            `${seconds} s per measurement; requests encoded once, answers not decoded by the load process.`,
        ],
      };
    } finally {
      await raw.stop();
    }
  });

/** One real answer of the ledger's Check, so the raw server encodes an answer of the same size. */
async function sampleCheck(
  address: string,
  apiKey: string,
  request: object,
): Promise<Record<string, unknown>> {
  const { LedgerGrpcClient, ROLE } = await import('@ledger/client');
  const client = new LedgerGrpcClient({ address, apiKey });
  try {
    const answer = await client.check(request as { userId: string; deviceId: string });
    return {
      allowed: answer.allowed,
      token: answer.token,
      ...(answer.role ? { role: ROLE.toWire(answer.role) } : {}),
    };
  } finally {
    client.close();
  }
}

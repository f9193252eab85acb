import { paired, result } from '../lib/stats';
import type { Suite } from '../lib/types';
import { authorizeBodies, CHECK_FLEET, ingestBodies, load, VIEWS_PER_BATCH, withServer } from './http';

/** Sequential-ish media-service traffic: a low fixed rate over two connections, far under capacity. */
const AUTHORIZE_RATE = 100;
const AUTHORIZE_CONNECTIONS = 2;
const INGEST_CONNECTIONS = 4;

/**
 * authorize.http.during-ingest: p99 of POST /v1/media/authorize at a fixed rate while POST /v1/views/batch
 * (1000 views a request) runs flat out from 4 connections beside it, against the same p99 with the ledger
 * otherwise idle, in the same round. Two load processes, one server.
 */
export const authorizeDuringIngest: Suite = async (context, log) =>
  withServer(context, CHECK_FLEET, async (server) => {
    const seconds = context.quick ? 4 : 10;
    const authorize = authorizeBodies();
    const views = ingestBodies();
    const authorizeLoad = () =>
      load(server, server.specDir, {
        path: '/v1/media/authorize',
        bodies: authorize,
        connections: AUTHORIZE_CONNECTIONS,
        durationSeconds: seconds,
        overallRate: AUTHORIZE_RATE,
      });
    await authorizeLoad();
    const p99 = paired();
    const p50 = paired();
    const ingested: number[] = [];
    for (let round = 0; round < context.rounds; round++) {
      const idle = await authorizeLoad();
      const ingest = load(server, server.specDir, {
        path: '/v1/views/batch',
        bodies: views,
        connections: INGEST_CONNECTIONS,
        durationSeconds: seconds + 2,
      });
      // Ingest gets a second's head start, so the authorizations meet it at full speed.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const during = await authorizeLoad();
      const bulk = await ingest;
      p99.ours.push(Math.max(during.p99, 0.1));
      p99.theirs.push(Math.max(idle.p99, 0.1));
      p50.ours.push(Math.max(during.p50, 0.1));
      p50.theirs.push(Math.max(idle.p50, 0.1));
      ingested.push(bulk.requestsPerSec * VIEWS_PER_BATCH);
      log(
        `round ${round + 1}: authorize p50/p99 idle ${idle.p50}/${idle.p99} ms, during ingest ${during.p50}/${during.p99} ms ` +
          `(ingest ${Math.round(bulk.requestsPerSec * VIEWS_PER_BATCH)} views/s)`,
      );
    }
    const baseline = `the same authorizations (${AUTHORIZE_RATE}/s) with the ledger otherwise idle, same round`;
    const sorted = [...ingested].sort((a, b) => a - b);
    return {
      results: [
        result('authorize.http.during-ingest', `ms p99 at ${AUTHORIZE_RATE} req/s`, baseline, p99, false),
        result('authorize.http.during-ingest.p50', `ms p50 at ${AUTHORIZE_RATE} req/s`, baseline, p50, false),
      ],
      notes: [
        `authorize.http.during-ingest: ${AUTHORIZE_RATE} authorizations/s over ${AUTHORIZE_CONNECTIONS} connections for ${seconds} s, ` +
          `beside POST /v1/views/batch (${VIEWS_PER_BATCH} views a request) flat out from ${INGEST_CONNECTIONS} connections ` +
          `(median ${Math.round(sorted[sorted.length >> 1])} views/s); ratio = idle p99 ÷ during p99.`,
      ],
    };
  });

import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyReply } from 'fastify';
import { Streams, viewShardFor } from '@ledger/domain';
import { currentRoles, type FleetShape } from '../lib/fixtures';
import { reportReady } from '../lib/node-child';
import { INSERT_EVENT, openRawEventsDb } from '../lib/raw-sqlite';

/**
 * The peer a team would build instead of `POST /v1/media/authorize`: Fastify 5 and better-sqlite3, nothing else.
 * It decides from a map of (viewer, device) → role held in memory, and appends the view as one row to an events
 * table (the store's v1 layout, same pragmas: WAL, synchronous=FULL). Before it answers, the row is committed:
 * the same promise our route makes. Rows that arrive in one turn of the event loop share a transaction, so one
 * fsync covers them. That is the strongest plain form; one commit per request would fsync per request.
 *
 * argv: JSON `{ dataDir, fleet, answer: { status, body } }`; the answer is the ledger's own bytes, as for the
 * raw Fastify baseline.
 */
interface PeerRequest {
  readonly dataDir: string;
  readonly fleet: FleetShape;
  readonly answer: { readonly status: number; readonly body: string };
}

interface PendingView {
  readonly stream: string;
  readonly data: string;
  readonly reply: FastifyReply;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2]) as PeerRequest;
  const roleOf = currentRoles(request.fleet);
  const db = openRawEventsDb(request.dataDir);
  const insert = db.prepare(INSERT_EVENT);
  const revisions = new Map<string, number>();
  let position = -1;
  let queue: PendingView[] = [];
  const commit = db.transaction((views: readonly PendingView[]) => {
    for (const view of views) {
      const revision = (revisions.get(view.stream) ?? -1) + 1;
      insert.run(++position, randomUUID(), view.stream, revision, 'MediaViewed', view.data, null);
      revisions.set(view.stream, revision);
    }
  });
  const flush = (): void => {
    const views = queue;
    queue = [];
    commit.immediate(views);
    for (const view of views) {
      void view.reply
        .status(request.answer.status)
        .header('content-type', 'application/json; charset=utf-8')
        .send(request.answer.body);
    }
  };

  const app = Fastify({ logger: false });
  app.post('/v1/media/authorize', (req, reply) => {
    const body = req.body as Record<string, unknown> | null;
    const viewer = body?.viewerId;
    const device = body?.deviceId;
    if (typeof viewer !== 'string' || typeof device !== 'string' || typeof body?.mediaId !== 'string') {
      void reply.status(400).send({ error: 'viewerId, deviceId and mediaId are required strings' });
      return;
    }
    const role = roleOf.get(`${viewer}|${device}`);
    if (role === undefined) {
      void reply.status(403).send({ allowed: false });
      return;
    }
    const data = JSON.stringify({ ...body, role, viewedAt: new Date().toISOString() });
    if (queue.length === 0) setImmediate(flush);
    // The ledger's view streams, so both sides keep the same per-stream revisions.
    queue.push({ stream: Streams.views(viewShardFor(device)), data, reply });
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.on('message', (message) => {
    if (message !== 'stop') return;
    void app.close().finally(() => {
      db.close();
      process.exit(0);
    });
  });
  reportReady({ baseUrl: address });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

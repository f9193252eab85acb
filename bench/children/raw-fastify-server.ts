import Fastify from 'fastify';
import { reportReady } from '../lib/node-child';

/**
 * The floor the HTTP figures are measured against: Fastify 5 alone in its own process — no Nest, no guard, no
 * validation, no pino, no metrics — parsing the JSON body and answering with the very bytes the ledger's own
 * route answered (argv: JSON `{ "<path>": { "status", "body" } }`), so both send responses of the same size.
 */
interface Canned {
  readonly status: number;
  readonly body: string;
}

async function main(): Promise<void> {
  const routes = JSON.parse(process.argv[2]) as Record<string, Canned>;
  const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });
  for (const [url, canned] of Object.entries(routes)) {
    app.post(url, (request, reply) => {
      // Touch the parsed body, as a handler would.
      const ok = typeof request.body === 'object' && request.body !== null;
      void reply
        .status(ok ? canned.status : 400)
        .header('content-type', 'application/json; charset=utf-8')
        .send(canned.body);
    });
  }
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.on('message', (message) => {
    if (message !== 'stop') return;
    void app.close().finally(() => process.exit(0));
  });
  reportReady({ baseUrl: address });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

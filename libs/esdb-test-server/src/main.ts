/**
 * Standalone EventStoreDB test server: `npm run esdb:test-server -- --port 2113 [--host 127.0.0.1]
 * [--features batch-append|append-only|unimplemented] [--no-caught-up] [--max-append-size BYTES]
 * [--no-system-events]`. Serves until SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_APPEND_SIZE, startEsdbTestServer } from './esdb-test-server';
import type { AdvertisedFeatures } from './server-features-service';

const FEATURES: readonly AdvertisedFeatures[] = ['batch-append', 'append-only', 'unimplemented'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '2113' },
      host: { type: 'string', default: '127.0.0.1' },
      features: { type: 'string', default: 'batch-append' },
      'no-caught-up': { type: 'boolean', default: false },
      'max-append-size': { type: 'string', default: String(DEFAULT_MAX_APPEND_SIZE) },
      'no-system-events': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port: not a port: ${values.port}`);
  const features = values.features as AdvertisedFeatures;
  if (!FEATURES.includes(features)) throw new Error(`--features: one of ${FEATURES.join(', ')}`);

  const maxAppendSize = Number(values['max-append-size']);
  if (!Number.isInteger(maxAppendSize) || maxAppendSize < 1)
    throw new Error(`--max-append-size: a positive number of bytes, got ${values['max-append-size']}`);

  const server = await startEsdbTestServer({
    maxAppendSize,
    systemEvents: !values['no-system-events'],
    port,
    host: values.host,
    features,
    sendCaughtUp: !values['no-caught-up'],
  });
  process.stdout.write(`EventStoreDB test server listening: ${server.connectionString}\n`);
  const shutdown = (signal: string): void => {
    process.stdout.write(`${signal}: stopping (${server.log.all.length} events in memory are discarded)\n`);
    void server.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});

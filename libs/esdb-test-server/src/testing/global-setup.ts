import { startEsdbTestServer } from '../esdb-test-server';
import { rememberSharedServer } from './shared-server';

/**
 * Jest global setup of the EventStoreDB suite. With EVENTSTORE_CONNECTION_STRING set, tests use that server
 * (a real EventStoreDB/KurrentDB); otherwise one test server is started for the whole run and its connection
 * string exported, so workers (spawned after this) inherit it. ESDB_TEST_SERVER_PORT pins its port.
 */
export default async function globalSetup(): Promise<void> {
  const configured = process.env.EVENTSTORE_CONNECTION_STRING;
  if (configured) {
    process.stdout.write(`\nEventStoreDB suite: using EVENTSTORE_CONNECTION_STRING\n`);
    return;
  }
  const server = await startEsdbTestServer({ port: Number(process.env.ESDB_TEST_SERVER_PORT ?? 0) });
  rememberSharedServer(server);
  process.env.EVENTSTORE_CONNECTION_STRING = server.connectionString;
  process.env.ESDB_TEST_SERVER = 'shared';
  process.stdout.write(`\nEventStoreDB suite: test server at ${server.connectionString}\n`);
}

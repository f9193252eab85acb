import { afterAll, beforeAll } from '@jest/globals';
import { startEsdbTestServer, type EsdbTestServer } from '../esdb-test-server';

/**
 * For a test file that needs an EventStoreDB: the one named by EVENTSTORE_CONNECTION_STRING (set by the suite's
 * global setup, or by hand for a real server), else a test server private to the file, so the file also runs
 * under the default jest config. Call at the top level of the file; read `connectionString` inside tests.
 */
export function useEsdbConnection(): { readonly connectionString: string } {
  let privateServer: EsdbTestServer | undefined;
  let connectionString = process.env.EVENTSTORE_CONNECTION_STRING ?? '';
  beforeAll(async () => {
    if (connectionString) return;
    privateServer = await startEsdbTestServer();
    connectionString = privateServer.connectionString;
  });
  afterAll(async () => {
    await privateServer?.stop();
  });
  return {
    get connectionString() {
      if (!connectionString) throw new Error('useEsdbConnection: read connectionString inside a test');
      return connectionString;
    },
  };
}

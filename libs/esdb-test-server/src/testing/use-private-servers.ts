import { afterEach } from '@jest/globals';
import { EventStoreDBClient } from '@eventstore/db-client';
import { startEsdbTestServer, type EsdbTestServer, type EsdbTestServerOptions } from '../esdb-test-server';

export interface PrivateServers {
  /** A fresh test server with these options, and an official client connected to it. */
  serverAndClient(
    options?: EsdbTestServerOptions,
  ): Promise<{ server: EsdbTestServer; client: EventStoreDBClient }>;
  /** Another official client, disposed with the rest after the test. */
  connect(connectionString: string): EventStoreDBClient;
}

/**
 * For the test server's own fidelity tests, where each test needs a server nobody else has written to: every
 * server and client made during a test is disposed of after it (clients first, so none sees its server stop).
 * Call at the top level of the file.
 */
export function usePrivateServers(): PrivateServers {
  const servers: EsdbTestServer[] = [];
  const clients: EventStoreDBClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.dispose();
    for (const server of servers.splice(0)) await server.stop();
  });
  const connect = (connectionString: string): EventStoreDBClient => {
    const client = EventStoreDBClient.connectionString(connectionString);
    clients.push(client);
    return client;
  };
  return {
    connect,
    async serverAndClient(options = {}) {
      const server = await startEsdbTestServer(options);
      servers.push(server);
      return { server, client: connect(server.connectionString) };
    },
  };
}

import { afterAll, beforeAll, describe } from '@jest/globals';
import { startEsdbTestServer, type EsdbTestServer } from '@ledger/esdb-test-server';
import { useEsdbConnection } from '../../../esdb-test-server/src/testing';
import { describeEventStoreContract } from '../testing';
import { EsdbEventStore, type EsdbEventStoreOptions } from './esdb-event-store';

// The shared server of the suite (or EVENTSTORE_CONNECTION_STRING): BatchAppend, caught-up, filters on the server.
const shared = useEsdbConnection();
describeEventStoreContract('eventstoredb', async () => {
  const store = await EsdbEventStore.connect(shared.connectionString);
  return { store, cleanup: () => store.close() };
});

function describeOnPrivateServer(
  name: string,
  start: () => Promise<EsdbTestServer>,
  options: EsdbEventStoreOptions = {},
): void {
  describe(name, () => {
    let server: EsdbTestServer;
    beforeAll(async () => {
      server = await start();
    });
    afterAll(async () => {
      await server.stop();
    });
    describeEventStoreContract(name, async () => {
      const store = await EsdbEventStore.connect(server.connectionString, options);
      return { store, cleanup: () => store.close() };
    });
  });
}

// A server like those before 23.10: appends through Streams.Append, subscriptions never announce caught-up.
describeOnPrivateServer('eventstoredb, Append path, no caught-up from the server', () =>
  startEsdbTestServer({ features: 'append-only', sendCaughtUp: false }),
);

// Only the client's public API: $all filters applied by the adapter.
describeOnPrivateServer('eventstoredb, filtering in the adapter', () => startEsdbTestServer(), {
  serverSideFiltering: false,
});

import { describeEventStoreContract } from '@ledger/event-store/testing';
import { InMemoryEventStore } from './in-memory-event-store';

// The store the replay and import unit tests run on keeps the port's contract, as the real adapters do.
describeEventStoreContract('in-memory (replay tests)', async () => {
  const store = new InMemoryEventStore();
  return { store, cleanup: () => store.close() };
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeEventStoreContract } from '../testing';
import { SqliteEventStore } from './sqlite-event-store';

// The service runs its group commits on the writer thread: the port's behaviour must be the very same.
describeEventStoreContract('sqlite (writer thread)', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-thread-contract-'));
  const store = SqliteEventStore.open({ dataDir, writerThread: true });
  return {
    store,
    async cleanup() {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeEventStoreContract } from '../testing';
import { SqliteEventStore } from './sqlite-event-store';

describeEventStoreContract('sqlite', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-sqlite-contract-'));
  const store = SqliteEventStore.open({ dataDir });
  return {
    store,
    async cleanup() {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

import * as path from 'node:path';
import { loadConfig } from '@ledger/config';
import { VIEW_COLUMNS_DIR } from '@ledger/replay';
import { viewColumnsFor } from './audit-work';

describe('viewColumnsFor', () => {
  it("gives the embedded store's replays the data dir's views projection", () => {
    const columns = viewColumnsFor(loadConfig({ LEDGER_DATA_DIR: '/srv/ledger' }));
    expect(columns?.dir).toBe(path.join('/srv/ledger', VIEW_COLUMNS_DIR));
  });

  it('leaves replays on EventStoreDB to the log itself', () => {
    const config = loadConfig({
      LEDGER_DATA_DIR: '/srv/ledger',
      EVENTSTORE_CONNECTION_STRING: 'esdb://127.0.0.1:2113?tls=false',
    });
    expect(viewColumnsFor(config)).toBeUndefined();
  });
});

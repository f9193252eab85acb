import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { comparePositions } from '@ledger/event-store';
import { SqliteEventStore } from '../../event-store/src/sqlite';
import { LiveProjection } from './live-projection';
import { registration } from './testing/device-appends';

describe('LiveProjection.catchUpToHead', () => {
  let dataDir: string;
  let store: SqliteEventStore;
  let projection: LiveProjection;

  beforeEach(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-live-head-'));
    store = SqliteEventStore.open({ dataDir });
    await store.append(registration('cam-0'));
    projection = new LiveProjection(store, { snapshotDir: null });
    await projection.start();
  });
  afterEach(async () => {
    await projection.stop();
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('reads the head once for the callers of one turn of the event loop, and again for a later caller', async () => {
    const reads = jest.spyOn(store, 'headPosition');
    const together = await Promise.all([
      projection.catchUpToHead(5_000),
      projection.catchUpToHead(5_000),
      projection.catchUpToHead(5_000),
    ]);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(new Set(together.map(String)).size).toBe(1);

    const acknowledged = await store.append(registration('cam-1'));
    const later = await projection.catchUpToHead(5_000);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(comparePositions(later, acknowledged.position)).toBeGreaterThanOrEqual(0);
    expect(projection.table.check('owner-cam-1', 'cam-1', Date.now()).allowed).toBe(true);
  });

  it('covers, for a caller waiting behind an earlier one, a write another connection acknowledged in between', async () => {
    const first = projection.catchUpToHead(5_000);
    // Acknowledged by another connection (the command-line program, say) after the first caller and before the
    // second: whether the two share a read or not, the second one's read is taken after it was called.
    const other = SqliteEventStore.open({ dataDir });
    const acknowledged = await other.append(registration('cam-2'));
    await other.close();
    const second = projection.catchUpToHead(5_000);
    const [, head] = await Promise.all([first, second]);
    expect(comparePositions(head, acknowledged.position)).toBeGreaterThanOrEqual(0);
    expect(projection.table.check('owner-cam-2', 'cam-2', Date.now()).allowed).toBe(true);
  });
});

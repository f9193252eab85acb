import { openEventStore, readAllPages, type EventStore } from '@ledger/event-store';
import { rebuildFromLog } from '@ledger/projections';
import { spawnLedger, TEST_API_KEY } from '../../../test/support/ledger-child';
import { tempDataDir } from '../../../test/support/ledger-test-app';

/** Views of this run only: on EventStoreDB the server is shared with other suites. */
async function allViews(store: EventStore, run: string): Promise<Map<string, number>> {
  const perBatch = new Map<string, number>();
  for await (const page of readAllPages(store, { filter: { eventTypes: ['MediaViewed'] } })) {
    for (const event of page) {
      const [batchRun, batch] = String(event.data.mediaId).split('.');
      if (batchRun !== run) continue;
      perBatch.set(batch, (perBatch.get(batch) ?? 0) + 1);
    }
  }
  return perBatch;
}

describe('durability under kill -9', () => {
  it('loses no acknowledged view and leaves no half-stored batch when killed during a write storm', async () => {
    const dataDir = tempDataDir('ledger-crash-');
    const run = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const child = await spawnLedger(dataDir);
    const acknowledged = new Set<string>();
    const batchSize = 40;
    let stop = false;
    let sent = 0;
    const writer = async (worker: number) => {
      for (let n = 0; !stop; n++) {
        const batch = `w${worker}b${n}`;
        sent++;
        const views = Array.from({ length: batchSize }, (_unused, i) => ({
          viewerId: `viewer-${worker}`,
          deviceId: `cam-${n % 17}`,
          mediaId: `${run}.${batch}.${i}`,
          mediaType: 'thumbnail',
          action: 'delivered',
          occurredAt: new Date().toISOString(),
        }));
        try {
          const response = await fetch(`${child.baseUrl}/v1/views/batch`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ views }),
          });
          if (response.status === 201) acknowledged.add(batch);
        } catch {
          return; // the server died under us: this batch was never acknowledged
        }
      }
    };
    const writers = Array.from({ length: 16 }, (_unused, worker) => writer(worker));
    // Kill once a good number of batches has been acknowledged, with many still in flight.
    while (acknowledged.size < 150) await new Promise((resolve) => setTimeout(resolve, 20));
    await child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(sent).toBeGreaterThan(acknowledged.size);

    const restarted = await spawnLedger(dataDir);
    let served: { token: string; digest: string };
    try {
      served = (await (
        await fetch(`${restarted.baseUrl}/v1/projection`, {
          headers: { authorization: `Bearer ${TEST_API_KEY}` },
        })
      ).json()) as { token: string; digest: string };
    } finally {
      await restarted.kill('SIGTERM');
    }

    // The child used the same store the suite runs on: embedded in the data dir, or EventStoreDB.
    const store = await openEventStore({
      dataDir,
      eventStoreConnectionString: process.env.EVENTSTORE_CONNECTION_STRING ?? null,
    });
    try {
      const stored = await allViews(store, run);
      const missing = [...acknowledged].filter((batch) => stored.get(batch) !== batchSize);
      expect(missing).toEqual([]);
      const torn = [...stored].filter(([, count]) => count !== batchSize);
      expect(torn).toEqual([]);
      const rebuilt = await rebuildFromLog(store);
      expect(rebuilt.digest).toBe(served.digest);
    } finally {
      await store.close();
    }
  }, 180_000);
});

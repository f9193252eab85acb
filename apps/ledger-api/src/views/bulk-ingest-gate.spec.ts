import { BulkIngestGate } from './bulk-ingest-gate';

describe('BulkIngestGate', () => {
  it('lets one batch in at a time, in arrival order, and survives double releases', async () => {
    const gate = new BulkIngestGate(1);
    const order: string[] = [];
    const first = await gate.acquire();
    const second = gate.acquire().then((release) => (order.push('second'), release));
    const third = gate.acquire().then((release) => (order.push('third'), release));
    expect(gate.queued).toBe(2);
    await Promise.resolve();
    expect(order).toEqual([]);
    first();
    first();
    const releaseSecond = await second;
    expect(order).toEqual(['second']);
    expect(gate.queued).toBe(1);
    releaseSecond();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    // Free again: the next acquire does not wait.
    (await gate.acquire())();
    expect(gate.queued).toBe(0);
  });
});

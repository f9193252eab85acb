import { BulkIngestGate } from './bulk-ingest-gate';

describe('BulkIngestGate', () => {
  it('builds one batch at a time, in arrival order, and survives double releases', async () => {
    const gate = new BulkIngestGate(1, 1);
    const order: string[] = [];
    const first = await gate.enter();
    const second = gate.enter().then((turn) => (order.push('second'), turn));
    const third = gate.enter().then((turn) => (order.push('third'), turn));
    expect(gate.queued).toBe(2);
    await Promise.resolve();
    expect(order).toEqual([]);
    first.done();
    first.done();
    const secondTurn = await second;
    expect(order).toEqual(['second']);
    expect(gate.queued).toBe(1);
    secondTurn.done();
    (await third).done();
    expect(order).toEqual(['second', 'third']);
    // Free again: the next turn does not wait.
    (await gate.enter()).done();
    expect(gate.queued).toBe(0);
  });

  it('lets the next batch be built while the previous one commits, up to the admitted bound', async () => {
    const gate = new BulkIngestGate(1, 2);
    const first = await gate.enter();
    let secondIn = false;
    const second = gate.enter().then((turn) => ((secondIn = true), turn));
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondIn).toBe(false);
    first.built();
    const secondTurn = await second;
    expect(secondIn).toBe(true);
    // Two admitted (one committing, one built): a third waits until one of them is answered.
    secondTurn.built();
    let thirdIn = false;
    const third = gate.enter().then((turn) => ((thirdIn = true), turn));
    await new Promise((resolve) => setImmediate(resolve));
    expect(thirdIn).toBe(false);
    first.done();
    (await third).done();
    expect(thirdIn).toBe(true);
    secondTurn.done();
    expect(gate.queued).toBe(0);
  });
});

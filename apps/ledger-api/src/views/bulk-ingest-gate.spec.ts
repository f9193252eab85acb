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

describe('BulkIngestGate yielding to interactive requests', () => {
  it('starts a build only once the interactive requests in flight are answered', async () => {
    const gate = new BulkIngestGate(1, 4, 10_000);
    const first = await gate.enter();
    expect(gate.ingesting).toBe(true);
    const check = gate.interactiveStarted();
    let built = false;
    const next = gate.enter().then((turn) => ((built = true), turn));
    first.built();
    await new Promise((resolve) => setImmediate(resolve));
    expect(built).toBe(false);
    check();
    check();
    (await next).done();
    expect(built).toBe(true);
    first.done();
    expect(gate.ingesting).toBe(false);
  });

  it('does not let a steady trickle of interactive requests starve ingest', async () => {
    const gate = new BulkIngestGate(1, 4, 20);
    const neverAnswered = gate.interactiveStarted();
    const turn = await gate.enter();
    turn.done();
    neverAnswered();
  });
});

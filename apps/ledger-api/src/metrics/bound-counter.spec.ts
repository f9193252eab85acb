import { Counter, Registry } from 'prom-client';
import { BoundCounter } from './bound-counter';
import { LedgerMetrics } from './ledger-metrics';

const LABELS = ['endpoint', 'outcome'] as const;
type Labels = Record<(typeof LABELS)[number], string>;

/** The same increments through prom-client's own Counter and through the bound one. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const name = 'ledger_check_decisions_total';
  const help = 'Access decisions by endpoint and outcome';
  const reference = new Counter({ name, help, labelNames: LABELS, registers: [theirs] });
  const bound = new BoundCounter(name, help, LABELS, ours);
  const inc = (labels: Labels, value?: number) => {
    reference.inc(labels, value);
    bound.bind(labels).inc(value);
  };
  return { theirs, ours, bound, inc };
}

describe('BoundCounter', () => {
  it("exports exactly what prom-client's Counter exports for the same increments, in text and as JSON", async () => {
    const { theirs, ours, inc } = both();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    inc({ endpoint: 'check', outcome: 'denied' });
    inc({ endpoint: 'check', outcome: 'allowed' }, 3);
    inc({ endpoint: 'check', outcome: 'denied' }, 0.5);
    inc({ endpoint: 'we"ird\\', outcome: 'allowed' }, 0);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('keeps one series per label set, and a reset empties it as prom-client does (series reappear as counted)', async () => {
    const { theirs, ours, bound, inc } = both();
    const allowed = { endpoint: 'authorize', outcome: 'allowed' };
    const denied = { endpoint: 'authorize', outcome: 'denied' };
    inc(allowed);
    inc(denied);
    expect(bound.bind({ ...allowed })).toBe(bound.bind(allowed));
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    inc(denied, 2);
    inc(allowed);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses to count down or by a non-number, as prom-client does', () => {
    const { bound } = both();
    const series = bound.bind({ endpoint: 'check', outcome: 'allowed' });
    expect(() => series.inc(-1)).toThrow(/finite amount/);
    expect(() => series.inc(Number.NaN)).toThrow(/finite amount/);
    expect(() => series.inc(Number.POSITIVE_INFINITY)).toThrow(/finite amount/);
  });
});

describe('LedgerMetrics.countDecisions', () => {
  it('counts each endpoint in its allowed and denied series', async () => {
    const metrics = new LedgerMetrics();
    metrics.countDecisions('check', true);
    metrics.countDecisions('check', false);
    metrics.countDecisions('check_bulk', true, 7);
    metrics.countDecisions('check', true);
    const text = await metrics.registry.getSingleMetricAsString('ledger_check_decisions_total');
    expect(text.split('\n').slice(2)).toEqual([
      'ledger_check_decisions_total{endpoint="check",outcome="allowed"} 2',
      'ledger_check_decisions_total{endpoint="check",outcome="denied"} 1',
      'ledger_check_decisions_total{endpoint="check_bulk",outcome="allowed"} 7',
    ]);
  });
});

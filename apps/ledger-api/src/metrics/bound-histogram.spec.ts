import { Histogram, Registry } from 'prom-client';
import { BoundHistogram } from './bound-histogram';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const LABELS = ['method', 'route', 'status'] as const;

/** The same observations through prom-client's own Histogram and through the bound one. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({
    name: 'ledger_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: LABELS,
    buckets: BUCKETS,
    registers: [theirs],
  });
  const bound = new BoundHistogram(
    'ledger_http_request_duration_seconds',
    'HTTP request latency by route and status',
    LABELS,
    BUCKETS,
    ours,
  );
  const observe = (labels: Record<(typeof LABELS)[number], string>, value: number) => {
    reference.observe(labels, value);
    bound.bind(labels).observe(value);
  };
  return { theirs, ours, bound, observe };
}

describe('BoundHistogram', () => {
  it("exports exactly what prom-client's Histogram exports for the same observations, in text and as JSON", async () => {
    const { theirs, ours, observe } = both();
    const check = { method: 'POST', route: '/v1/check', status: '200' };
    const denied = { method: 'POST', route: '/v1/media/authorize', status: '403' };
    // On a bound, between bounds, past the last bound, zero, and a label value that needs escaping.
    for (const value of [0.0005, 0.0007, 0.003, 7.5, 0, 0.25, 1e-9]) observe(check, value);
    observe(denied, 0.02);
    observe({ method: 'GET', route: '/v1/users/:userId/"x"\\n', status: '200' }, 0.3);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('keeps one series per label set however often it is bound, and reset zeroes it as prom-client does', async () => {
    const { theirs, ours, bound, observe } = both();
    const labels = { method: 'POST', route: '/v1/check', status: '200' };
    observe(labels, 0.001);
    expect(bound.bind({ ...labels })).toBe(bound.bind(labels));
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    observe(labels, 0.002);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('exports a histogram without labels as prom-client does: its one series from the start, and after a reset', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const buckets = [1, 2, 5, 10, 50, 100, 250, 500, 1000];
    const help = 'Events per append request';
    const reference = new Histogram({
      name: 'ledger_store_append_batch_events',
      help,
      buckets,
      registers: [theirs],
    });
    const series = new BoundHistogram('ledger_store_append_batch_events', help, [], buckets, ours).bind({});
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const value of [1, 1000, 3, 4000]) {
      reference.observe(value);
      series.observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('times from startTimer to the call of what it returns, in seconds', async () => {
    const series = new BoundHistogram('t_seconds', 't', [], [0.001, 10], new Registry()).bind({});
    const observed: number[] = [];
    const spied = Object.assign(series, { observe: (value: number) => observed.push(value) });
    const stop = spied.startTimer();
    await new Promise((resolve) => setTimeout(resolve, 20));
    stop();
    expect(observed).toHaveLength(1);
    expect(observed[0]).toBeGreaterThan(0.005);
    expect(observed[0]).toBeLessThan(10);
  });
});

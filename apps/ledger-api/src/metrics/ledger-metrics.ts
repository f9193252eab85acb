import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundCounter, type CounterSeries } from './bound-counter';
import { BoundHistogram } from './bound-histogram';

/** Every metric the service exports, on its own registry (no module-level singletons). */
export class LedgerMetrics {
  readonly registry = new Registry();
  /** Observed on every request: its series are bound once per route and status (`observeHttpDurations`). */
  readonly httpDuration = new BoundHistogram(
    'ledger_http_request_duration_seconds',
    'HTTP request latency by route and status',
    ['method', 'route', 'status'] as const,
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    this.registry,
  );
  /** Counted on every decision: through `countDecisions`, whose series are bound once per endpoint. */
  readonly checkDecisions = new BoundCounter(
    'ledger_check_decisions_total',
    'Access decisions by endpoint and outcome',
    ['endpoint', 'outcome'] as const,
    this.registry,
  );
  private readonly decisionSeries = new Map<string, { allowed: CounterSeries; denied: CounterSeries }>();
  /** Observed on every append, like the two below: one series without labels, bound once. */
  readonly appendDuration = new BoundHistogram(
    'ledger_store_append_duration_seconds',
    'Event store append latency (including group-commit wait)',
    [],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    this.registry,
  ).bind({});
  readonly appendBatchSize = new BoundHistogram(
    'ledger_store_append_batch_events',
    'Events per append request',
    [],
    [1, 2, 5, 10, 50, 100, 250, 500, 1000],
    this.registry,
  ).bind({});
  readonly projectionLagEvents = new Gauge({
    name: 'ledger_projection_lag_events',
    help: 'Events acknowledged by this process that the projection has not applied yet',
    registers: [this.registry],
  });
  readonly projectionLagSeconds = new Gauge({
    name: 'ledger_projection_lag_seconds',
    help: 'How long the projection has been behind the head (0 when caught up)',
    registers: [this.registry],
  });
  readonly replayExposures = new Counter({
    name: 'ledger_replay_exposures_total',
    help: 'Unauthorized views found by incident replays',
    registers: [this.registry],
  });
  readonly replays = new Counter({
    name: 'ledger_replays_total',
    help: 'Incident replays run',
    registers: [this.registry],
  });
  readonly exports = new Counter({
    name: 'ledger_exports_total',
    help: 'Audit trail exports',
    labelNames: ['format'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ledger_' });
  }

  /** `count` decisions of one endpoint (`check`, `authorize`, `grpc_check` …), all allowed or all denied. */
  countDecisions(endpoint: string, allowed: boolean, count = 1): void {
    let series = this.decisionSeries.get(endpoint);
    if (series === undefined) {
      series = {
        allowed: this.checkDecisions.bind({ endpoint, outcome: 'allowed' }),
        denied: this.checkDecisions.bind({ endpoint, outcome: 'denied' }),
      };
      this.decisionSeries.set(endpoint, series);
    }
    (allowed ? series.allowed : series.denied).inc(count);
  }

  /** Log lines the service gave up on (full disk, closed pipe, queue full), read when scraped. */
  observeLogOutput(dropped: () => number): void {
    new Gauge({
      name: 'ledger_log_lines_dropped',
      help: 'Log lines dropped since start because stdout could not take them (full disk, closed pipe, backlog)',
      registers: [this.registry],
      collect() {
        this.set(dropped());
      },
    });
  }
}

import type { Registry } from 'prom-client';

/** One label set's count. */
export interface CounterSeries {
  inc(value?: number): void;
}

interface Series extends CounterSeries {
  readonly labels: Readonly<Record<string, string>>;
  value: number;
  /** Counted since the last reset: prom-client exports a label set from its first increment on. */
  exported: boolean;
}

/**
 * A Prometheus counter whose label sets are bound once and counted through the handle they return, for a
 * counter incremented on every request (the access decisions). prom-client's `Counter` validates and hashes
 * the labels object on every increment. The exposition is prom-client's own for the same increments, series
 * in the order of their first increment (`bound-counter.spec.ts` compares them).
 */
export class BoundCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();
  private exported: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    // The registry reads what it exports through `get()`: the only interface it needs.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of one label set, created on first use; keep it and count through it. */
  bind(labels: Readonly<Record<L, string>>): CounterSeries {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.series.get(key);
    if (series === undefined) {
      const created: Series = {
        labels: Object.fromEntries(this.labelNames.map((name) => [name, labels[name]])),
        value: 0,
        exported: false,
        inc: (value = 1) => {
          if (!(value >= 0) || !Number.isFinite(value)) {
            throw new Error(`${this.name}: a counter only grows by a finite amount, not ${value}`);
          }
          if (!created.exported) {
            created.exported = true;
            this.exported.push(created);
          }
          created.value += value;
        },
      };
      series = created;
      this.series.set(key, series);
    }
    return series;
  }

  reset(): void {
    for (const series of this.exported) {
      series.value = 0;
      series.exported = false;
    }
    this.exported = [];
  }

  /** The values as prom-client's `get()` gives a counter's. */
  get(): {
    name: string;
    help: string;
    type: string;
    values: Array<{ value: number; labels: Record<string, string> }>;
    aggregator: string;
  } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.exported.map((series) => ({ value: series.value, labels: { ...series.labels } })),
      aggregator: this.aggregator,
    };
  }
}

import { BoundMetric, type BoundSeries } from './bound-metric';

/** One label set's count. */
export interface CounterSeries {
  inc(value?: number): void;
}

interface Series extends CounterSeries, BoundSeries {
  value: number;
}

/**
 * A Prometheus counter whose label sets are bound once and counted through the handle they return (the access
 * decisions, counted on every request). The exposition is prom-client's `Counter`'s for the same increments,
 * a label set shown from its first increment (`bound-counter.spec.ts` compares them).
 */
export class BoundCounter<L extends string> extends BoundMetric<L, Series> {
  readonly type = 'counter';

  /** The series of one label set, created on first use; keep it and count through it. */
  bind(labels: Readonly<Record<L, string>>): CounterSeries {
    return this.seriesFor(labels, (own) => this.created(own), false);
  }

  private created(labels: Readonly<Record<string, string>>): Series {
    const series: Series = {
      labels,
      value: 0,
      exported: false,
      inc: (value = 1) => {
        if (!(value >= 0) || !Number.isFinite(value)) {
          throw new Error(`${this.name}: a counter only grows by a finite amount, not ${value}`);
        }
        this.shown(series);
        series.value += value;
      },
    };
    return series;
  }

  protected zero(series: Series): void {
    series.value = 0;
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

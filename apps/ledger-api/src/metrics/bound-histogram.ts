import type { Registry } from 'prom-client';
import { BoundMetric, type BoundSeries } from './bound-metric';

/** One label set's series: a count per bucket (not cumulative), the sum and the count. */
export interface HistogramSeries {
  observe(value: number): void;
  /** Observes the seconds from this call to the call of the function it returns. */
  startTimer(): () => void;
}

interface Series extends HistogramSeries, BoundSeries {
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

interface ExportedValue {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Record<string, string>;
  readonly value: number;
  readonly metricName: string;
  /** Always empty (no exemplars), present as in prom-client's values: null on buckets, undefined elsewhere. */
  readonly exemplar: null | undefined;
}

/**
 * A Prometheus histogram whose label sets are bound once and observed through the handle they return, for a
 * series observed on every request (about 2% of a check's CPU went to prom-client's label hashing). The
 * exposition is prom-client's `Histogram`'s for the same observations, a label set shown from its binding
 * (`bound-histogram.spec.ts` compares them line for line).
 */
export class BoundHistogram<L extends string> extends BoundMetric<L, Series> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  /** The series of one label set, created on first use; keep it and observe through it. */
  bind(labels: Readonly<Record<L, string>>): HistogramSeries {
    return this.seriesFor(labels, (own) => this.created(own), true);
  }

  private created(labels: Readonly<Record<string, string>>): Series {
    const bounds = this.upperBounds;
    const series: Series = {
      labels,
      buckets: new Float64Array(bounds.length),
      sum: 0,
      count: 0,
      exported: false,
      observe: (value: number) => {
        this.shown(series);
        for (let i = 0; i < bounds.length; i++) {
          if (value <= bounds[i]) {
            series.buckets[i]++;
            break;
          }
        }
        series.sum += value;
        series.count++;
      },
      startTimer() {
        const start = performance.now();
        return () => series.observe((performance.now() - start) / 1000);
      },
    };
    return series;
  }

  protected zero(series: Series): void {
    series.buckets.fill(0);
    series.sum = 0;
    series.count = 0;
  }

  /** The values as prom-client's registry formats them: `le` first, then the series' labels. */
  getForPromString(): {
    name: string;
    help: string;
    type: string;
    values: ExportedValue[];
    aggregator: string;
  } {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.exported) {
      const sharedLabels = { ...series.labels };
      let cumulative = 0;
      this.upperBounds.forEach((bound, i) => {
        cumulative += series.buckets[i];
        values.push({
          labels: { le: bound },
          sharedLabels,
          value: cumulative,
          metricName: bucket,
          exemplar: null,
        });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: `${this.name}_sum`, exemplar: undefined },
        {
          labels: {},
          sharedLabels,
          value: series.count,
          metricName: `${this.name}_count`,
          exemplar: undefined,
        },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same values with each one's labels in one object, as prom-client's `get()` gives them. */
  get(): {
    name: string;
    help: string;
    type: string;
    values: Array<Omit<ExportedValue, 'sharedLabels'>>;
    aggregator: string;
  } {
    const exported = this.getForPromString();
    return {
      ...exported,
      values: exported.values.map(({ labels, sharedLabels, value, metricName, exemplar }) => ({
        labels: { ...labels, ...sharedLabels },
        value,
        metricName,
        exemplar,
      })),
    };
  }
}

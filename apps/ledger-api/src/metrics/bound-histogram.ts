import type { Registry } from 'prom-client';

/** One label set's series: a count per bucket (not cumulative), the sum and the count. */
export interface HistogramSeries {
  observe(value: number): void;
  /** Observes the seconds from this call to the call of the function it returns. */
  startTimer(): () => void;
}

interface Series extends HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
  /** In the exposition: from its binding, and after a reset from its next observation (prom-client's rule). */
  exported: boolean;
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
 * series observed on every request. prom-client's `Histogram` (its `labels()` children too) validates and
 * hashes the labels object on every observation: about 2% of a check's CPU. The exposition is prom-client's
 * own for the same observations (`bound-histogram.spec.ts` compares them line for line).
 */
export class BoundHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();
  /** The exported series, in prom-client's order: as bound, and after a reset as observed again. */
  private exported: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    // The registry reads what it exports through `get()`/`getForPromString()`: the only interface it needs.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of one label set, created on first use; keep it and observe through it. */
  bind(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.series.get(key);
    if (series === undefined) {
      const bounds = this.upperBounds;
      const created: Series = {
        labels: Object.fromEntries(this.labelNames.map((name) => [name, labels[name]])),
        buckets: new Float64Array(bounds.length),
        sum: 0,
        count: 0,
        exported: true,
        observe: (value: number) => {
          if (!created.exported) {
            created.exported = true;
            this.exported.push(created);
          }
          for (let i = 0; i < bounds.length; i++) {
            if (value <= bounds[i]) {
              created.buckets[i]++;
              break;
            }
          }
          created.sum += value;
          created.count++;
        },
        startTimer() {
          const start = performance.now();
          return () => created.observe((performance.now() - start) / 1000);
        },
      };
      series = created;
      this.series.set(key, series);
      this.exported.push(series);
    }
    return series;
  }

  reset(): void {
    for (const series of this.exported) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
      series.exported = false;
    }
    this.exported = [];
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

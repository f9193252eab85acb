import type { Registry } from 'prom-client';

/** What the base keeps of each label set's series. */
export interface BoundSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** In the exposition: prom-client drops a label set at a reset and shows it again once it is counted. */
  exported: boolean;
}

/**
 * A Prometheus metric whose label sets are bound once and updated through the handle `bind` returns, for a
 * series updated on every request: prom-client's metrics (their `labels()` children too) validate and hash the
 * labels object on every update. This base keeps the series by label set and the exposition's order, which is
 * prom-client's: by first appearance, and after a reset by next update.
 */
export abstract class BoundMetric<L extends string, S extends BoundSeries> {
  readonly aggregator = 'sum';
  private readonly series = new Map<string, S>();
  protected exported: S[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    // The registry reads what it exports through `get()` (and `getForPromString()` where there is one).
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of one label set, made by `create` on first use; `shownAtOnce`: exported before any update. */
  protected seriesFor(
    labels: Readonly<Record<L, string>>,
    create: (labels: Readonly<Record<string, string>>) => S,
    shownAtOnce: boolean,
  ): S {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.series.get(key);
    if (series === undefined) {
      series = create(Object.fromEntries(this.labelNames.map((name) => [name, labels[name]])));
      this.series.set(key, series);
      if (shownAtOnce) this.shown(series);
    }
    return series;
  }

  /** Puts a series in the exposition (after the others) if a reset took it out or it was never shown. */
  protected shown(series: S): void {
    if (series.exported) return;
    series.exported = true;
    this.exported.push(series);
  }

  reset(): void {
    for (const series of this.exported) {
      this.zero(series);
      series.exported = false;
    }
    this.exported = [];
  }

  protected abstract zero(series: S): void;
}

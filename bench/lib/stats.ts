import type { BenchResult } from './types';

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const magnitude = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : digits;
  const factor = 10 ** magnitude;
  return Math.round(value * factor) / factor;
}

/** Per-round pairs of (ours, baseline). */
export interface Paired {
  readonly ours: number[];
  readonly theirs: number[];
}

export function paired(): Paired {
  return { ours: [], theirs: [] };
}

/**
 * Builds a result from paired rounds. `higherIsBetter` says how to orient the ratio: throughput divides ours by
 * theirs, costs (latency, bytes, seconds) divide theirs by ours.
 */
export function result(
  name: string,
  unit: string,
  baseline: string,
  rounds: Paired,
  higherIsBetter: boolean,
): BenchResult {
  const ratios = rounds.ours.map((ours, i) =>
    higherIsBetter ? ours / rounds.theirs[i] : rounds.theirs[i] / ours,
  );
  return {
    name,
    unit,
    value: round(median(rounds.ours)),
    baseline,
    baselineValue: round(median(rounds.theirs)),
    ratio: round(median(ratios), 3),
  };
}

/** Wall time of `work` in ms, with a high-resolution clock. */
export async function timeIt(work: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function perSecond(count: number, ms: number): number {
  return (count * 1000) / ms;
}

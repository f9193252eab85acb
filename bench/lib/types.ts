/** One line of bench/results.json: a figure beside its baseline, measured in the same run. */
export interface BenchResult {
  readonly name: string;
  readonly unit: string;
  /** Median over the rounds. */
  readonly value: number;
  /** What the figure is compared with. */
  readonly baseline: string;
  /** Median of the baseline over the same rounds. */
  readonly baselineValue: number;
  /**
   * Median of the per-round ratios, oriented so that higher is better for us: ours/theirs for throughput,
   * theirs/ours for latency, bytes and start-up time. Paired per round, it cancels most of a shared machine's
   * drift, so it can differ slightly from value/baselineValue.
   */
  readonly ratio: number;
}

export interface SuiteContext {
  readonly quick: boolean;
  readonly rounds: number;
  /** Scratch space for data dirs; removed after the run. */
  readonly workDir: string;
  /** Set by `--profile`: children that run our code write `--cpu-prof` profiles here. */
  readonly profileDir: string | null;
  /** The shared 1M-event log (replay, rebuild, restart), built once per run. */
  readonly fleetLogDir: string;
}

export interface SuiteOutput {
  readonly results: readonly BenchResult[];
  /** Facts a reader needs to interpret the figures (sizes, rates, what exactly was timed). */
  readonly notes: readonly string[];
}

export type Suite = (context: SuiteContext, log: (message: string) => void) => Promise<SuiteOutput>;

import * as fs from 'node:fs';
import type { Machine } from './machine';
import type { BenchResult } from './types';

export interface Goal {
  readonly name: string;
  /** What the goal is about: the ratio to the baseline, or the figure itself. */
  readonly on: 'ratio' | 'value';
  readonly min?: number;
  readonly max?: number;
}

/** The goals of issues 7 and 14 (ratios measured in the same run), and the absolute memory budget. */
export const GOALS: readonly Goal[] = [
  { name: 'ingest.embedded', on: 'ratio', min: 0.5 },
  { name: 'ingest.embedded.tree', on: 'ratio', min: 0.8 },
  { name: 'check.inproc', on: 'ratio', min: 0.25 },
  // Issue 14: against raw Fastify / raw grpc-js in their own processes; p99 ≤ 1.5× raw is a ratio ≥ 1/1.5.
  { name: 'check.http', on: 'ratio', min: 0.7 },
  { name: 'check.http.p99', on: 'ratio', min: 0.667 },
  { name: 'authorize.http', on: 'ratio', min: 0.5 },
  { name: 'authorize.http.p99', on: 'ratio', min: 0.667 },
  { name: 'check.grpc', on: 'ratio', min: 0.7 },
  { name: 'authorize.http.during-ingest', on: 'ratio', min: 0.5 },
  { name: 'ingest.http', on: 'ratio', min: 0.5 },
  { name: 'replay', on: 'ratio', min: 0.4 },
  { name: 'rebuild', on: 'ratio', min: 0.4 },
  { name: 'peer.emmett.append', on: 'ratio', min: 1.0 },
  { name: 'memory.relationship', on: 'value', max: 157 },
  // Issue 16: the store on disk no bigger than the same events as NDJSON (ratio NDJSON ÷ store).
  { name: 'disk.bytes-per-event', on: 'ratio', min: 1.0 },
];

export function goalText(goal: Goal | undefined): string {
  if (!goal) return '';
  const subject = goal.on === 'ratio' ? 'ratio' : 'value';
  return goal.min !== undefined ? `${subject} ≥ ${goal.min}` : `${subject} < ${goal.max}`;
}

export function goalMet(goal: Goal | undefined, result: BenchResult): boolean | null {
  if (!goal) return null;
  const figure = goal.on === 'ratio' ? result.ratio : result.value;
  if (goal.min !== undefined) return figure >= goal.min;
  if (goal.max !== undefined) return figure < goal.max;
  return null;
}

export interface RunRecord {
  readonly mode: 'quick' | 'full';
  readonly date: string;
  readonly durationSeconds: number;
  readonly rounds: number;
  readonly machine: Machine;
  readonly results: readonly BenchResult[];
  readonly notes: readonly string[];
  readonly failures: readonly string[];
}

export function writeResultsJson(file: string, run: RunRecord): void {
  const goals = GOALS.map((goal) => {
    const found = run.results.find((r) => r.name === goal.name);
    return { name: goal.name, goal: goalText(goal), met: found ? goalMet(goal, found) : null };
  });
  const body = {
    results: run.results,
    goals,
    run: {
      mode: run.mode,
      date: run.date,
      durationSeconds: run.durationSeconds,
      rounds: run.rounds,
      machine: run.machine,
      notes: run.notes,
      failures: run.failures,
    },
  };
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
}

const number = (n: number): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: Math.abs(n) >= 100 ? 0 : 2 })
    : String(n);

export function resultsTable(results: readonly BenchResult[]): string {
  const rows = results.map((r) => {
    const goal = GOALS.find((g) => g.name === r.name);
    const met = goalMet(goal, r);
    return `| \`${r.name}\` | ${number(r.value)} | ${r.unit} | ${number(r.baselineValue)} | ${r.ratio} | ${goalText(goal) || '–'} | ${met === null ? '–' : met ? 'met' : '**not met**'} |`;
  });
  return [
    '| figure | ours | unit | baseline | ratio | goal | |',
    '|---|---:|---|---:|---:|---|---|',
    ...rows,
  ].join('\n');
}

export function baselinesList(results: readonly BenchResult[]): string {
  return results.map((r) => `- \`${r.name}\`: ${r.baseline}.`).join('\n');
}

/** docs/benchmarks.md keeps one generated section per mode, so a quick run never hides the last full one. */
const markers = (mode: RunRecord['mode']) => ({
  start: `<!-- bench:${mode}:start -->`,
  end: `<!-- bench:${mode}:end -->`,
});

/** The generated part of docs/benchmarks.md: this run's machine, table, baselines and notes. */
export function generatedSection(run: RunRecord): string {
  const m = run.machine;
  const { start, end } = markers(run.mode);
  return [
    start,
    `Latest run: \`npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}\` on ${run.date.slice(0, 10)} ` +
      `(${run.date}), ${run.rounds} rounds per figure, ${Math.round(run.durationSeconds)} s in all.`,
    '',
    `Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; ` +
      `1-minute load average ${m.loadAtStart.toFixed(1)} at the start and ${m.loadAtEnd.toFixed(1)} at the end (the machine is shared).`,
    '',
    resultsTable(run.results),
    '',
    'Baselines:',
    '',
    baselinesList(run.results),
    '',
    'Notes of this run:',
    '',
    ...run.notes.map((note) => `- ${note}`),
    ...(run.failures.length > 0 ? ['', 'Failed suites:', '', ...run.failures.map((f) => `- ${f}`)] : []),
    end,
  ].join('\n');
}

/** Replaces the generated section of the doc, keeping everything written by hand around it. */
export function updateDoc(file: string, run: RunRecord, skeleton: () => string): void {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : skeleton();
  const { start: startMarker, end: endMarker } = markers(run.mode);
  const start = current.indexOf(startMarker);
  const end = current.indexOf(endMarker);
  const section = generatedSection(run);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${section}${current.slice(end + endMarker.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, next);
}

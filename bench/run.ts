import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatProfile, summarizeProfile } from './lib/cpu-profile';
import type { FleetShape } from './lib/fixtures';
import { describeMachine } from './lib/machine';
import { projectRoot, runChild } from './lib/node-child';
import { resultsTable, updateDoc, writeResultsJson, type RunRecord } from './lib/report';
import type { BenchResult, SuiteContext, SuiteOutput } from './lib/types';
import { SUITES } from './suites';

const USAGE = `usage: npm run bench -- [--quick] [--rounds N] [--only SUITE[,SUITE…]] [--profile SUITE]

  --quick          shorter measurements, 3 rounds, 2 for restart and memory (under 15 minutes on 2 cores)
  --rounds N       rounds per figure (default 3 quick, 5 full); each figure is the median
  --only S,…       run only these suites; results go to bench/out/ instead of bench/results.json
  --profile S      run suite S with node --cpu-prof on the process running our code, and print its top frames

suites: ${Object.keys(SUITES).join(', ')}`;

/** The shared log of replay, rebuild and restart: 100k devices (owner + 2 viewers, some revoked) + views = 1M events. */
const FLEET_LOG_SHAPE: FleetShape = {
  devices: 100_000,
  users: 200_000,
  viewersPerDevice: 2,
  revokeEvery: 10,
};
const FLEET_LOG_VIEWS = 690_000;

interface Options {
  readonly quick: boolean;
  readonly rounds: number;
  readonly only: readonly string[] | null;
  readonly profile: string | null;
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  let rounds: number | null = null;
  let only: string[] | null = null;
  let profile: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--rounds') rounds = Number(value());
    else if (arg === '--only') only = value().split(',');
    else if (arg === '--profile') profile = value();
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  for (const name of [...(only ?? []), ...(profile ? [profile] : [])]) {
    if (!SUITES[name]) throw new Error(`unknown suite ${name}`);
  }
  if (rounds !== null && (!Number.isInteger(rounds) || rounds < 1))
    throw new Error('--rounds must be a positive integer');
  if (profile && !only) only = [profile];
  return { quick, rounds: rounds ?? (quick ? 3 : 5), only, profile };
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const machine = describeMachine();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-bench-'));
  const outDir = path.join(projectRoot, 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const profileDir = options.profile
    ? path.join(outDir, 'profiles', `${options.profile}-${Date.now()}`)
    : null;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const names = options.only ?? Object.keys(SUITES);
  const fleetLogDir = path.join(workDir, 'fleet-log');
  const results: BenchResult[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  log(`bench: ${options.quick ? 'quick' : 'full'} run, ${options.rounds} rounds, suites ${names.join(', ')}`);
  log(
    `machine: ${machine.nproc} CPUs, ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAtStart.toFixed(1)}`,
  );
  try {
    if (names.some((name) => SUITES[name].needsFleetLog)) {
      log('building the shared 1M-event log through the store port …');
      const t = Date.now();
      const built = await runChild<{ events: number; viewColumnsMs: number }>(
        'bench/children/build-fleet-log',
        [JSON.stringify({ dir: fleetLogDir, shape: FLEET_LOG_SHAPE, views: FLEET_LOG_VIEWS })],
      );
      log(
        `  ${built.events.toLocaleString('en-US')} events in ${((Date.now() - t) / 1000).toFixed(1)} s ` +
          `(of which the replay's views projection from position zero: ${(built.viewColumnsMs / 1000).toFixed(1)} s)`,
      );
    }
    for (const name of names) {
      const entry = SUITES[name];
      const context: SuiteContext = {
        quick: options.quick,
        rounds: options.rounds,
        workDir,
        fleetLogDir,
        profileDir:
          profileDir && name === options.profile && entry.hotPath === 'children' ? profileDir : null,
      };
      log(`== ${name}`);
      const t = Date.now();
      try {
        const output = await runChild<SuiteOutput>(
          'bench/children/suite-child',
          [name, JSON.stringify(context)],
          {
            nodeFlags: entry.nodeFlags,
            profileDir:
              profileDir && name === options.profile && entry.hotPath === 'suite' ? profileDir : null,
            passStderr: true,
          },
        );
        results.push(...output.results);
        notes.push(...output.notes);
        for (const r of output.results)
          log(`  ${r.name}: ${r.value} ${r.unit} vs ${r.baselineValue} → ratio ${r.ratio}`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${name}: ${message.split('\n').slice(0, 6).join(' ')}`);
        log(`  FAILED: ${message}`);
      }
      log(`  (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  machine.loadAtEnd = os.loadavg()[0];
  const run: RunRecord = {
    mode: options.quick ? 'quick' : 'full',
    date: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    rounds: options.rounds,
    machine,
    results,
    notes,
    failures,
  };
  process.stdout.write(`\n${resultsTable(results)}\n\n`);
  if (options.only) {
    const file = path.join(outDir, 'partial-results.json');
    writeResultsJson(file, run);
    log(
      `partial run: results in ${path.relative(projectRoot, file)} (bench/results.json and docs/benchmarks.md untouched)`,
    );
  } else {
    writeResultsJson(path.join(projectRoot, 'bench', 'results.json'), run);
    updateDoc(path.join(projectRoot, 'docs', 'benchmarks.md'), run, () => '# Benchmarks\n');
    log('wrote bench/results.json and the generated section of docs/benchmarks.md');
  }
  if (profileDir) {
    for (const file of fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
      const summary = formatProfile(summarizeProfile(path.join(profileDir, file), 25));
      fs.writeFileSync(path.join(profileDir, `${file}.txt`), `${summary}\n`);
      process.stdout.write(
        `\nprofile ${path.relative(projectRoot, path.join(profileDir, file))}:\n${summary}\n`,
      );
    }
  }
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
});

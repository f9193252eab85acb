import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { ExitCode, UsageError } from '../cli-context';
import { runSimulation, type SimulationPhase, type SimulationResult } from '../simulate/run-simulation';
import type { RegisterCommand } from './index';

interface SimulateOptions {
  devices: string;
  users: string;
  faultRate: string;
  seed: string;
  json?: boolean;
  dataDir?: string | true;
  keepData?: boolean;
  concurrency: string;
}

const PHASE_LABELS: Record<SimulationPhase, string> = {
  fleet: 'fleet    ',
  'faulty-service': 'faulty   ',
  'verified-service': 'verified ',
  replay: 'replay   ',
};

function integer(value: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()))
    throw new UsageError(`${flag} must be an integer, got ${JSON.stringify(value)}`);
  const parsed = Number(value);
  if (parsed < min || parsed > max)
    throw new UsageError(`${flag} must be between ${min} and ${max}, got ${parsed}`);
  return parsed;
}

function rate(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0 || parsed > 1) {
    throw new UsageError(`--fault-rate must be a number from 0 to 1, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/**
 * `ledger simulate`: the incident's reconnect storm against a ledger service of its own (a child process, its
 * fleet loaded through `ledger import`), served by a media service trusting a faulty cache and through the
 * verification layer; exit 0 only when the replay finds exactly the injected exposures and the verification
 * layer exposed nobody.
 */
export const registerSimulateCommand: RegisterCommand = (program, context, setExitCode) => {
  program
    .command('simulate')
    .description(
      'simulate a reconnect storm through a faulty cache and through the verification layer, then check that the ' +
        'replay finds exactly the injected exposures (exit 0) or not (exit 1)',
    )
    .option('--devices <n>', 'cameras in the fleet', '20000')
    .option('--users <n>', 'users (owners and the people they share with)', '30000')
    .option(
      '--fault-rate <p>',
      'share of concurrent cache lookups answered with another device’s users',
      '0.01',
    )
    .option('--seed <n>', 'seed of the fleet, the storm and the faults', '1')
    .option('--json', 'end the output with one line of JSON')
    .option(
      '--data-dir [dir]',
      'keep the ledger in DIR (no DIR: LEDGER_DATA_DIR or ./data) instead of a temporary dir',
    )
    .option('--keep-data', 'do not remove the temporary data dir')
    .option('--concurrency <n>', 'HTTP connections the media services keep to the ledger', '64')
    .action(async (options: SimulateOptions) => {
      const devices = integer(options.devices, '--devices', 1, 5_000_000);
      const users = integer(options.users, '--users', 2, 10_000_000);
      const faultRate = rate(options.faultRate);
      const seed = integer(options.seed, '--seed', 0, 0xffffffff);
      const concurrency = integer(options.concurrency, '--concurrency', 1, 1024);
      const ctx = context();
      const dataDir =
        options.dataDir === undefined
          ? undefined
          : options.dataDir === true
            ? ctx.config.dataDir
            : options.dataDir;
      const progress = ctx.interactive ? new ProgressBars() : null;
      let result: SimulationResult;
      try {
        result = await runSimulation({
          devices,
          users,
          faultRate,
          seed,
          concurrency,
          dataDir,
          keepData: options.keepData === true,
          onProgress: progress ? (phase, done, total) => progress.update(phase, done, total) : undefined,
        });
      } finally {
        progress?.stop();
      }
      process.stdout.write(describeSimulation(result));
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      setExitCode(result.ok ? ExitCode.ok : ExitCode.findings);
    });
};

/** One bar per phase on stderr; the storm's two services run at once, so their bars move together. */
class ProgressBars {
  private readonly multi = new MultiBar(
    {
      stream: process.stderr,
      format: '{phase} {bar} {value}/{total} {unit}',
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  private readonly bars = new Map<SimulationPhase, SingleBar>();

  update(phase: SimulationPhase, done: number, total: number): void {
    let bar = this.bars.get(phase);
    if (!bar) {
      const unit =
        phase === 'fleet' ? 'devices' : phase === 'replay' ? 'events' : 'deliveries';
      bar = this.multi.create(Math.max(total, 1), 0, { phase: PHASE_LABELS[phase], unit });
      this.bars.set(phase, bar);
    }
    bar.setTotal(Math.max(total, done, 1));
    bar.update(done);
  }

  stop(): void {
    this.multi.stop();
  }
}

const number = (n: number): string => n.toLocaleString('en-US');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export function describeSimulation(r: SimulationResult): string {
  const detection = r.exact
    ? 'EXACT: every injected exposure detected, none invented, each with the right reason and owner'
    : 'NOT EXACT: the replay and the ground truth disagree';
  const verified =
    r.authorizePathExposures === 0 &&
    r.authorizePathReplayExposures === 0 &&
    r.authorizePathWrongDenials === 0
      ? 'the verification layer exposed nobody and refused nobody entitled'
      : 'the verification layer got decisions wrong';
  const lines = [
    `Reconnect storm (seed ${r.seed}): ${number(r.devices)} devices, ${number(r.users)} users, fault rate ${r.faultRate}`,
    `  fleet     ${number(r.ownershipChanges)} ownership changes (${number(r.fleet.grants)} grants, ${number(r.fleet.revokes)} revokes, ` +
      `${number(r.fleet.expired)} expired, ${number(r.fleet.transfers)} transfers, ${number(r.fleet.decommissioned)} decommissioned) ` +
      `in ${seconds(r.phases.fleetMs)} (${number(r.rates.fleetWritesPerSec)}/s through ledger import); service ready in ${seconds(r.phases.serviceStartMs)}`,
    `  storm     ${number(r.lookups)} cache lookups, ${number(r.mixedUpLookups)} mixed up; ${number(r.deliveries)} deliveries, ` +
      `${number(r.wrongDeliveries)} to someone not entitled (${seconds(r.phases.stormMs)})`,
    `  faulty    ${number(r.viewsRecorded)} views recorded via POST /v1/views/batch (${number(r.rates.viewsPerSec)}/s); ` +
      `${number(r.injected)} unauthorized (injected)`,
    `  replay    ${number(r.report.exposures)} exposures in ${seconds(r.phases.replayMs)}: ${number(r.detected)} detected, ` +
      `${number(r.falsePositives)} false positives, ${number(r.falseNegatives)} false negatives, ` +
      `${number(r.attributionMismatches)} misattributed`,
    `            ${number(r.report.viewersExposed)} viewers exposed, ${number(r.report.viewersOpened)} opened, ` +
      `${number(r.report.viewersPlayedVideo)} played a video; ${number(r.report.ownersAffected)} owners and ` +
      `${number(r.report.devicesAffected)} devices affected; ${r.report.digest}`,
    `  verified  ${number(r.authorizeCalls)} views decided (${number(r.rates.authorizePerSec)}/s) by ${number(r.verificationRequests.bulkChecks)} POST /v1/check/bulk ` +
      `and ${number(r.verificationRequests.authorize)} POST /v1/media/authorize: ` +
      `${number(r.authorizeAllowed)} allowed, ${number(r.authorizeDenied)} denied; ${number(r.authorizePathExposures)} exposures, ` +
      `${number(r.authorizePathWrongDenials)} wrong denials, ${number(r.authorizePathReasonMismatches)} wrong reasons`,
    `  result    ${detection}; ${verified}`,
    ...r.samples.map((line) => `            ${line}`),
    `  took      ${seconds(r.durationMs)}`,
  ];
  return `${lines.join('\n')}\n`;
}

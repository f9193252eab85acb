import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LedgerClient } from '@ledger/client';
import { SCOPES } from '@ledger/config';
import { formatTime } from '@ledger/domain';
import { positionToToken, START } from '@ledger/event-store';
import { importWithCli, writeFleetImportFile } from './fleet-import';
import { keepAliveFetch } from './keep-alive-fetch';
import { compareDetection, ViewKeySet } from './ground-truth';
import {
  driveLoad,
  type LoadOutcome,
  type LoadPhase,
  type LoadRequest,
  type ProgressSink,
} from './load-driver';
import type { LoadWorkerMessage } from './load-worker';
import { startLedgerService, type LedgerService } from './ledger-service';
import { seededRandom } from './random';

export interface SimulationOptions {
  readonly devices: number;
  readonly users: number;
  /** Fraction of pipelined cache lookups answered with another device's users. */
  readonly faultRate: number;
  readonly seed: number;
  /** Where the ledger keeps its files; a fresh temp dir (removed afterwards) when absent. */
  readonly dataDir?: string;
  /** Keep the temp data dir instead of removing it. */
  readonly keepData?: boolean;
  /** Concurrent HTTP clients: fleet writers, and the verified media service's requests in flight. */
  readonly concurrency?: number;
  /** Batches the faulty media service has in flight at once. */
  readonly batchConcurrency?: number;
  /** Views per POST /v1/views/batch (1–1000). */
  readonly batchSize?: number;
  /** Requests the cache client pipelines together (the concurrency under which it mixes answers up). */
  readonly pipelineDepth?: number;
  /** Each device uploads 1 to this many pending events when it comes back. */
  readonly maxEventsPerDevice?: number;
  /**
   * Run the HTTP clients on a worker thread (default), so progress reporting never waits behind them; false
   * runs them on the main thread. (The ledger itself is a child process either way.)
   */
  readonly loadInWorker?: boolean;
  readonly onProgress?: (phase: SimulationPhase, done: number, total: number) => void;
}

export type SimulationPhase = LoadPhase | 'replay';

export interface SimulationResult {
  readonly seed: number;
  readonly devices: number;
  readonly users: number;
  readonly faultRate: number;
  readonly dataDir: string;
  readonly ownershipChanges: number;
  readonly fleet: {
    grants: number;
    revokes: number;
    expired: number;
    transfers: number;
    decommissioned: number;
  };
  readonly lookups: number;
  readonly mixedUpLookups: number;
  readonly deliveries: number;
  readonly wrongDeliveries: number;
  /** Views the faulty media service recorded through POST /v1/views/batch. */
  readonly viewsRecorded: number;
  /** Of those, views the ground truth knows were unauthorized. */
  readonly injected: number;
  /** Injected exposures the replay reported. */
  readonly detected: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  /** Detected with the wrong reason, owner or media type. */
  readonly attributionMismatches: number;
  /** The report's viewer/owner/device counts equal those of the ground truth. */
  readonly summaryMatches: boolean;
  /** The replay examined every view of the window: both services' recorded views. */
  readonly viewsExaminedMatches: boolean;
  readonly report: {
    readonly viewsExamined: number;
    readonly exposures: number;
    readonly viewersExposed: number;
    readonly viewersOpened: number;
    readonly viewersPlayedVideo: number;
    readonly ownersAffected: number;
    readonly devicesAffected: number;
    readonly digest: string;
  };
  /** Views the verification layer decided on: one per view a media service asks about before serving it. */
  readonly authorizeCalls: number;
  readonly authorizeAllowed: number;
  readonly authorizeDenied: number;
  /** Allowed by /v1/media/authorize although the ground truth says the viewer may not see the device. */
  readonly authorizePathExposures: number;
  /** Exposures the replay found among views the verification layer allowed. */
  readonly authorizePathReplayExposures: number;
  /** Denied although the viewer may see the device. */
  readonly authorizePathWrongDenials: number;
  /** Denied with a reason other than the ground truth's. */
  readonly authorizePathReasonMismatches: number;
  /**
   * The requests those decisions took: one POST /v1/check/bulk per chunk of deliveries, and one POST
   * /v1/media/authorize per view of a delivery the bulk check refused (which records the refusal and its reason).
   */
  readonly verificationRequests: { bulkChecks: number; authorize: number };
  /** fleetMs: writing the fleet's import file (fleetFileMs of it) and `ledger import`; serviceStartMs: until ready. */
  readonly phases: {
    fleetMs: number;
    fleetFileMs: number;
    serviceStartMs: number;
    stormMs: number;
    replayMs: number;
  };
  readonly rates: { fleetWritesPerSec: number; viewsPerSec: number; authorizePerSec: number };
  readonly durationMs: number;
  /** The replay found exactly the injected exposures, with the right reasons and owners. */
  readonly exact: boolean;
  /** exact, and the verification layer exposed nobody and refused nobody entitled. */
  readonly ok: boolean;
  /** A few mismatches, when there are any. */
  readonly samples: readonly string[];
}

const SIMULATOR_KEY = 'simulator-admin-key-3f9c2a7e51d04b86';
/** Lets a worker thread load the TypeScript sources when the simulator itself runs from them (tests). */
const REGISTER_TS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'support', 'register-ts.js');

/**
 * The reconnect-storm simulation of issue 7 (at fleet scale, issue 16): a fleet with shares is loaded into a
 * data dir through `ledger import`, a ledger service is started on it as a child process, then the storm is
 * served two ways at once — by a media service trusting a faulty cache, which records what it served, and
 * through the verification layer — and the replay's exposures are compared with the ground truth the
 * simulator kept.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-simulate-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LEDGER_DATA_DIR: dataDir,
    LEDGER_API_KEYS: JSON.stringify([{ name: 'simulator', key: SIMULATOR_KEY, scopes: SCOPES }]),
    LOG_LEVEL: 'error',
  };
  let service: LedgerService | null = null;
  const http = keepAliveFetch(2);
  const fleetFile = path.join(
    temporary ? dataDir : fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-simulate-fleet-')),
    'fleet.ndjson',
  );
  try {
    // A data dir that already holds a ledger gets ids of its own, so a rerun never collides with the last.
    const reused = !temporary && (await holdsALedger(env));
    const now = Date.now();
    const idPrefix = reused ? `sim${now.toString(36)}.` : '';

    // The fleet's history goes in as an operator loads one, through `ledger import` (contract §7), before the
    // service starts: two million ownership changes one HTTP request each would be most of the run.
    const fleetStarted = Date.now();
    progress('fleet', 0, options.devices);
    const counts = writeFleetImportFile(
      fleetFile,
      { devices: options.devices, users: options.users, now, idPrefix },
      seededRandom(options.seed),
      (devices) => progress('fleet', devices, options.devices),
    );
    const fleetWrittenMs = Date.now() - fleetStarted;
    const imported = await importWithCli(fleetFile, env, `simulate-${options.seed}-${now}`);
    const accepted = /(\d+) accepted/.exec(imported);
    if (accepted === null || Number(accepted[1]) !== counts.ownershipChanges)
      throw new Error(`ledger import did not take all ${counts.ownershipChanges} ownership changes: ${imported}`);
    const fleetMs = Date.now() - fleetStarted;
    fs.rmSync(fleetFile, { force: true });

    const serviceStarted = Date.now();
    service = await startLedgerService(env);
    const serviceStartMs = Date.now() - serviceStarted;
    // node:http rather than the built-in fetch, whose 300 s header timeout a replay of ten million events on a
    // busy machine can outlast: the report only comes back once the whole window is judged.
    const client = new LedgerClient({
      baseUrl: service.baseUrl,
      apiKey: SIMULATOR_KEY,
      retries: 0,
      fetch: http.fetch,
    });
    // Ready means the projection has caught up with the log: its token is the head, the whole fleet in.
    const fleetToken = (await client.projection()).token;
    const request: LoadRequest = {
      baseUrl: service.baseUrl,
      apiKey: SIMULATOR_KEY,
      devices: options.devices,
      users: options.users,
      faultRate: options.faultRate,
      seed: options.seed,
      now,
      idPrefix,
      fleetToken,
      concurrency: options.concurrency ?? 64,
      batchConcurrency: options.batchConcurrency ?? 4,
      batchSize: options.batchSize ?? 1000,
      pipelineDepth: options.pipelineDepth ?? 64,
      maxEventsPerDevice: options.maxEventsPerDevice ?? 3,
    };
    const load =
      options.loadInWorker === false
        ? await driveLoad(request, progress)
        : await loadInWorker(request, progress);
    if (load.counts.ownershipChanges !== counts.ownershipChanges)
      throw new Error(
        `the storm's fleet has ${load.counts.ownershipChanges} changes, the imported one ${counts.ownershipChanges}`,
      );
    const { faulty, verified } = load;

    // The replay of the storm's window, put on the record like any other.
    const replayStarted = Date.now();
    const replayRequest = { from: formatTime(load.stormStartedAt), to: formatTime(Date.now() + 10 * 60_000) };
    const expectedEvents = load.counts.ownershipChanges + faulty.viewsRecorded + verified.allowed;
    // Through the service's audit route: on a worker there, and recorded (IncidentReplayed) before it answers.
    progress('replay', 0, expectedEvents);
    const report = await client.replay(replayRequest);
    progress('replay', expectedEvents, expectedEvents);
    const replayMs = Date.now() - replayStarted;

    const detection = compareDetection(
      report,
      new Map(faulty.injected),
      new Set(verified.allowedEventIds),
      ViewKeySet.fromArray(verified.allowedViewKeys),
    );
    const viewsExaminedMatches = report.summary.viewsExamined === faulty.viewsRecorded + verified.allowed;
    const exact =
      detection.detected === detection.injected &&
      detection.falsePositives === 0 &&
      detection.falseNegatives === 0 &&
      detection.attributionMismatches === 0 &&
      detection.summaryMatches &&
      viewsExaminedMatches;
    const ok =
      exact &&
      verified.exposures === 0 &&
      detection.authorizePathReplayExposures === 0 &&
      verified.wrongDenials === 0 &&
      verified.reasonMismatches === 0;
    const perSec = (count: number, ms: number) => Math.round((count * 1000) / Math.max(1, ms));
    return {
      seed: options.seed,
      devices: options.devices,
      users: options.users,
      faultRate: options.faultRate,
      dataDir,
      ownershipChanges: load.counts.ownershipChanges,
      fleet: {
        grants: load.counts.grants,
        revokes: load.counts.revokes,
        expired: load.counts.expired,
        transfers: load.counts.transfers,
        decommissioned: load.counts.decommissioned,
      },
      lookups: load.lookups,
      mixedUpLookups: load.mixedUpLookups,
      deliveries: load.deliveries,
      wrongDeliveries: load.wrongDeliveries,
      viewsRecorded: faulty.viewsRecorded,
      injected: detection.injected,
      detected: detection.detected,
      falsePositives: detection.falsePositives,
      falseNegatives: detection.falseNegatives,
      attributionMismatches: detection.attributionMismatches,
      summaryMatches: detection.summaryMatches,
      viewsExaminedMatches,
      report: {
        viewsExamined: report.summary.viewsExamined,
        exposures: report.summary.exposures,
        viewersExposed: report.summary.viewersExposed,
        viewersOpened: report.summary.viewersOpened,
        viewersPlayedVideo: report.summary.viewersPlayedVideo,
        ownersAffected: report.summary.ownersAffected,
        devicesAffected: report.summary.devicesAffected,
        digest: report.digest,
      },
      authorizeCalls: verified.calls,
      authorizeAllowed: verified.allowed,
      authorizeDenied: verified.calls - verified.allowed,
      authorizePathExposures: verified.exposures,
      authorizePathReplayExposures: detection.authorizePathReplayExposures,
      authorizePathWrongDenials: verified.wrongDenials,
      authorizePathReasonMismatches: verified.reasonMismatches,
      verificationRequests: { bulkChecks: verified.bulkChecks, authorize: verified.authorizeCalls },
      phases: { fleetMs, fleetFileMs: fleetWrittenMs, serviceStartMs, stormMs: load.stormMs, replayMs },
      rates: {
        fleetWritesPerSec: perSec(load.counts.ownershipChanges, fleetMs),
        viewsPerSec: perSec(faulty.viewsRecorded, faulty.durationMs),
        authorizePerSec: perSec(verified.calls, verified.durationMs),
      },
      durationMs: Date.now() - started,
      exact,
      ok,
      samples: [...detection.samples, ...verified.samples].slice(0, 10),
    };
  } finally {
    http.close();
    await service?.stop();
    fs.rmSync(fleetFile, { force: true });
    if (!temporary) fs.rmSync(path.dirname(fleetFile), { recursive: true, force: true });
    if (temporary && !options.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs the load on a worker thread: the clients then use the second core, not the ledger's event loop. */
function loadInWorker(request: LoadRequest, progress: ProgressSink): Promise<LoadOutcome> {
  const compiled = path.extname(__filename) === '.js';
  const entry = path.join(__dirname, compiled ? 'load-worker.js' : 'load-worker.ts');
  const worker = compiled
    ? new Worker(entry, { workerData: request })
    : new Worker(`require(${JSON.stringify(REGISTER_TS)});\nrequire(${JSON.stringify(entry)});`, {
        eval: true,
        workerData: request,
      });
  return new Promise<LoadOutcome>((resolve, reject) => {
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      action();
      void worker.terminate();
    };
    worker.on('message', (message: LoadWorkerMessage) => {
      if (message.kind === 'progress') progress(message.phase, message.done, message.total);
      else if (message.kind === 'done') settle(() => resolve(message.outcome));
      else settle(() => reject(new Error(`the load worker failed: ${message.message}`)));
    });
    worker.on('error', (error) => settle(() => reject(error)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the load worker exited with code ${code}`))));
  });
}

/** Whether the data dir (or the EventStoreDB the environment names) already holds events: asks a service. */
async function holdsALedger(env: NodeJS.ProcessEnv): Promise<boolean> {
  const service = await startLedgerService(env);
  try {
    const client = new LedgerClient({ baseUrl: service.baseUrl, apiKey: SIMULATOR_KEY, retries: 0 });
    return (await client.projection()).token !== positionToToken(START);
  } finally {
    await service.stop();
  }
}

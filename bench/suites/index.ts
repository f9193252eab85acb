import type { Suite } from '../lib/types';
import { appendEmbedded } from './append-embedded';
import { checkHttpDuringReplay } from './check-http-during-replay';
import { checkInproc } from './check-inproc';
import { disk } from './disk';
import { esdb } from './esdb';
import { importSuite } from './import';
import { authorizeDuringIngest } from './during-ingest';
import { checkGrpc } from './grpc';
import { authorizeHttp, checkHttp, ingestHttp } from './http';
import { ingestEmbedded } from './ingest-embedded';
import { logIntegrity } from './log-integrity';
import { memory } from './memory';
import { peerDuckdbReplay } from './peer-duckdb-replay';
import { peerEmmett } from './peer-emmett';
import { replayRebuild } from './replay-rebuild';
import { restart } from './restart';

export interface SuiteEntry {
  readonly run: Suite;
  /** Node flags of the process the suite runs in. */
  readonly nodeFlags?: readonly string[];
  /** The suite reads the shared 1M-event log. */
  readonly needsFleetLog?: boolean;
  /** Where our code runs: in the suite's own process, or in the servers it starts (what `--profile` profiles). */
  readonly hotPath: 'suite' | 'children';
}

/** Every suite, in the order a run executes them. */
export const SUITES: Readonly<Record<string, SuiteEntry>> = {
  'ingest.embedded': { run: ingestEmbedded, hotPath: 'suite' },
  'append.embedded': { run: appendEmbedded, hotPath: 'suite' },
  import: { run: importSuite, hotPath: 'suite' },
  disk: { run: disk, hotPath: 'suite' },
  'check.inproc': { run: checkInproc, hotPath: 'suite' },
  memory: { run: memory, nodeFlags: ['--expose-gc'], hotPath: 'suite' },
  'peer.emmett': { run: peerEmmett, hotPath: 'suite' },
  'replay+rebuild': { run: replayRebuild, needsFleetLog: true, hotPath: 'suite' },
  'peer.duckdb.replay': { run: peerDuckdbReplay, needsFleetLog: true, hotPath: 'children' },
  restart: { run: restart, needsFleetLog: true, hotPath: 'children' },
  'ingest.http': { run: ingestHttp, hotPath: 'children' },
  'check.http': { run: checkHttp, hotPath: 'children' },
  esdb: { run: esdb, hotPath: 'suite' },
  'authorize.http': { run: authorizeHttp, hotPath: 'children' },
  'check.grpc': { run: checkGrpc, hotPath: 'children' },
  'authorize.http.during-ingest': { run: authorizeDuringIngest, hotPath: 'children' },
  'log-integrity': { run: logIntegrity, hotPath: 'suite' },
  // Last: the service it starts on the shared log records its replay there (one IncidentReplayed event).
  'check.http.during-replay': { run: checkHttpDuringReplay, needsFleetLog: true, hotPath: 'children' },
};

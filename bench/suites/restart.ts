import * as fs from 'node:fs';
import * as path from 'node:path';
import { SNAPSHOT_FILE } from '@ledger/projections';
import { BENCH_API_KEYS } from '../lib/keys';
import { freePort, waitFor200 } from '../lib/net';
import { runToExit, spawnNode } from '../lib/node-child';
import { paired, result, timeIt } from '../lib/stats';
import type { Suite } from '../lib/types';

/**
 * restart: wall time from spawning the service (`apps/ledger-api/src/main`) to its first `/health` 200 over
 * the 1M-event log, with the projection snapshot present, against the same start with no snapshot (the
 * projection rebuilt from position zero while starting).
 */
export const restart: Suite = async (context, log) => {
  const dataDir = context.fleetLogDir;
  const snapshotDir = path.join(dataDir, 'snapshots');
  const saved = path.join(context.workDir, 'relationships.snapshot.saved');
  fs.rmSync(snapshotDir, { recursive: true, force: true });
  // The snapshot a previous run of the service would have left: written by `ledger rebuild`.
  const env = { LEDGER_DATA_DIR: dataDir, LEDGER_API_KEYS: BENCH_API_KEYS, LOG_LEVEL: 'warn' };
  await runToExit('apps/ledger-cli/src/main', ['rebuild', '--json'], { env });
  const snapshot = path.join(snapshotDir, SNAPSHOT_FILE);
  if (!fs.existsSync(snapshot)) throw new Error('ledger rebuild wrote no snapshot');
  fs.copyFileSync(snapshot, saved);
  const snapshotBytes = fs.statSync(saved).size;

  const start = async (withSnapshot: boolean): Promise<number> => {
    fs.rmSync(snapshotDir, { recursive: true, force: true });
    if (withSnapshot) {
      fs.mkdirSync(snapshotDir, { recursive: true });
      fs.copyFileSync(saved, snapshot);
    }
    const port = await freePort();
    const child = spawnNode('apps/ledger-api/src/main', [], {
      env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
      profileDir: context.profileDir,
    });
    child.stdout!.resume();
    child.stderr!.resume();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      return await timeIt(() =>
        waitFor200(`http://127.0.0.1:${port}/health`, 300_000, () => child.exitCode !== null),
      );
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  };

  const rounds = paired();
  // Each round starts the service twice over the 1M log (about 40 s): two rounds in a quick run keep it within
  // its 15-minute budget; a full run takes all of them.
  const roundCount = context.quick ? Math.min(context.rounds, 2) : context.rounds;
  try {
    for (let round = 0; round < roundCount; round++) {
      const order = round % 2 === 0 ? [true, false] : [false, true];
      for (const withSnapshot of order)
        (withSnapshot ? rounds.ours : rounds.theirs).push(await start(withSnapshot));
      log(
        `round ${round + 1}: with snapshot ${Math.round(rounds.ours[round])} ms, from zero ${Math.round(rounds.theirs[round])} ms`,
      );
    }
  } finally {
    fs.rmSync(snapshotDir, { recursive: true, force: true });
  }
  return {
    results: [
      result(
        'restart',
        'ms to /health 200',
        'the same start without the snapshot (projection rebuilt from position zero)',
        rounds,
        false,
      ),
    ],
    notes: [
      `restart: process spawn to first /health 200 over the 1M-event log; the snapshot is ${(snapshotBytes / 1e6).toFixed(1)} MB. ` +
        'Both include starting Node and Nest.',
    ],
  };
};

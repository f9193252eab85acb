import * as fs from 'node:fs';
import * as path from 'node:path';
import { runChild } from '../lib/node-child';
import { paired, result } from '../lib/stats';
import type { Suite } from '../lib/types';

/**
 * peer.emmett.append: sequential single-event appends (each awaited before the next, as a command handler
 * makes them) through our store and through @event-driven-io/emmett-sqlite 0.38.5, on the same rows and
 * stream names, each on a fresh file. Both stores use WAL with SQLite's default FULL synchronous in WAL mode
 * for theirs (sqlite3 defaults) and synchronous=FULL for ours, so every acknowledged append is durable in both.
 * Each side's round runs in a process of its own (bench/children/append-round.ts), timed inside it; see there
 * for the SQLITE_BUSY that Emmett's store raises on its own COMMIT and how the round handles it.
 */
export const peerEmmett: Suite = async (context, log) => {
  const appends = context.quick ? 400 : 1500;
  const rounds = paired();
  let busyRetries = 0;
  for (let round = 0; round < context.rounds; round++) {
    const sides = round % 2 === 0 ? (['ours', 'emmett'] as const) : (['emmett', 'ours'] as const);
    for (const side of sides) {
      const dir = fs.mkdtempSync(path.join(context.workDir, `peer-${side}-`));
      try {
        const run = await runChild<{ appendsPerSecond: number; busyRetries: number }>(
          'bench/children/append-round',
          [side, dir, String(appends)],
          { profileDir: side === 'ours' ? context.profileDir : null },
        );
        (side === 'ours' ? rounds.ours : rounds.theirs).push(run.appendsPerSecond);
        busyRetries += run.busyRetries;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    log(
      `round ${round + 1}: ours ${Math.round(rounds.ours[round])} appends/s, emmett ${Math.round(rounds.theirs[round])} appends/s`,
    );
  }
  return {
    results: [
      result(
        'peer.emmett.append',
        'appends/s',
        '@event-driven-io/emmett-sqlite 0.38.5 appendToStream, same rows and streams, one awaited append at a time',
        rounds,
        true,
      ),
    ],
    notes: [
      `peer.emmett.append: ${appends} sequential one-event appends per side per round, each round of each side ` +
        'in a fresh process on a fresh file. Emmett opens a connection per call in file mode (its design), which ' +
        `is part of what is measured. Emmett's own COMMIT failed with SQLITE_BUSY ${busyRetries} time(s) in all; ` +
        'each such append was rolled back by Emmett and retried (timed), and every round checked that Emmett ' +
        'stored each event once.',
    ],
  };
};

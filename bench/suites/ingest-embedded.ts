import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NewEvent } from '@ledger/event-store';
import { IntegrityMonitor } from '@ledger/log-integrity';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { viewEvents, viewStream, type FleetShape } from '../lib/fixtures';
import { INSERT_EVENT, openRawEventsDb } from '../lib/raw-sqlite';
import { median, paired, perSecond, result, timeIt } from '../lib/stats';
import type { Suite } from '../lib/types';

const SHAPE: FleetShape = { devices: 20_000, users: 40_000, viewersPerDevice: 2, revokeEvery: 0 };
const BATCH = 1000;
const IN_FLIGHT = 4;

/**
 * ingest.embedded: views appended through the store port exactly as POST /v1/views/batch does (one append of
 * 1000 views to a shard stream, expected revision `any`, four batches in flight), against raw better-sqlite3
 * INSERTs of the same rows with the same table, indexes and pragmas, committed four batches per transaction:
 * as few fsyncs as the store's group commit can reach with four batches in flight, so the ratio shows what the
 * store adds per event rather than what group commit saves.
 */
export const ingestEmbedded: Suite = async (context, log) => {
  const total = context.quick ? 100_000 : 300_000;
  const batches: NewEvent[][] = [];
  for (let i = 0; i < total; i += BATCH) batches.push(viewEvents(i, BATCH, SHAPE));
  const rounds = paired();
  // The same appends with the Merkle tree following the log (and recording its state), against none.
  const withTree = paired();
  const groupSizes: number[] = [];
  for (let round = 0; round < context.rounds; round++) {
    const sides = round % 2 === 0 ? (['ours', 'tree', 'raw'] as const) : (['raw', 'tree', 'ours'] as const);
    for (const side of sides) {
      const dir = fs.mkdtempSync(path.join(context.workDir, `ingest-${side}-`));
      try {
        if (side === 'ours') {
          const { ms, eventsPerCommit } = await throughStore(dir, batches);
          rounds.ours.push(perSecond(total, ms));
          groupSizes.push(eventsPerCommit);
        } else if (side === 'tree') {
          withTree.ours.push(perSecond(total, (await throughStore(dir, batches, { tree: true })).ms));
        } else {
          rounds.theirs.push(perSecond(total, rawInserts(dir, batches).ms));
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    withTree.theirs.push(rounds.ours[round]);
    log(
      `round ${round + 1}: ours ${Math.round(rounds.ours[round])} views/s, with the tree ${Math.round(withTree.ours[round])} views/s, raw ${Math.round(rounds.theirs[round])} views/s`,
    );
  }
  return {
    results: [
      result(
        'ingest.embedded',
        'views/s',
        `raw better-sqlite3 INSERTs of the same rows, one transaction per ${IN_FLIGHT} batches (${IN_FLIGHT * BATCH} rows), same schema and pragmas (WAL, synchronous=FULL)`,
        rounds,
        true,
      ),
      result(
        'ingest.embedded.tree',
        'views/s',
        'the same appends through the store without the Merkle tree following the log (ingest.embedded)',
        withTree,
        true,
      ),
    ],
    notes: [
      `ingest.embedded: ${total.toLocaleString('en-US')} views per round in batches of ${BATCH}, ${IN_FLIGHT} batches in flight; ` +
        `group commit wrote a median ${Math.round(median(groupSizes))} events per transaction (one fsync each).`,
    ],
  };
};

const benchSigner = { keyId: 'ed25519:0000000000000000', sign: () => '' };

/** Wall time, and CPU of the whole process (every thread, user + system), of one measured pass. */
export interface PassCost {
  readonly ms: number;
  readonly cpuMicros: number;
}

export interface ThroughStoreOptions {
  /** Appends awaited at once, each by its own closed-loop appender. */
  readonly inFlight?: number;
  /** The Merkle tree follows the log (and records its state), as in the service. */
  readonly tree?: boolean;
  /** Commits on the writer thread, as the service opens the store; otherwise inline on the event loop. */
  readonly writerThread?: boolean;
}

/**
 * Appends through the store port, `inFlight` at a time (each batch one append to its view shard stream): the
 * baseline of ingest.http and of the import figure, and the ours of ingest.embedded and append.embedded.
 */
export async function throughStore(
  dir: string,
  batches: readonly (readonly NewEvent[])[],
  { inFlight = IN_FLIGHT, tree = false, writerThread = false }: ThroughStoreOptions = {},
): Promise<PassCost & { eventsPerCommit: number }> {
  let commits = 0;
  let events = 0;
  const store = SqliteEventStore.open({
    dataDir: dir,
    writerThread,
    onGroupCommit: (info) => {
      commits++;
      events += info.events;
    },
  });
  // As the service runs it: subscribed to the log, recording its state in the data dir, signing nothing.
  const monitor = tree
    ? new IntegrityMonitor(store, {
        dataDir: dir,
        signer: benchSigner,
        key: { keyId: benchSigner.keyId, verify: () => false },
        policy: { everyEvents: 0, everySeconds: 0 },
      })
    : null;
  monitor?.start();
  try {
    // A writer thread is started and its statements prepared by a first append, which is not measured.
    if (writerThread) {
      await store.append({
        stream: viewStream(batches[0]),
        expectedRevision: 'any',
        events: viewEvents(0, 1, SHAPE),
      });
      commits = 0;
      events = 0;
    }
    const before = process.cpuUsage();
    let next = 0;
    const ms = await timeIt(async () => {
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < batches.length) {
            const batch = batches[next++];
            await store.append({ stream: viewStream(batch), expectedRevision: 'any', events: batch });
          }
        }),
      );
      // Counted until the tree holds every event: hashing that lags behind is not free.
      if (monitor) await monitor.waitFor(await store.headPosition(), 120_000);
    });
    return { ms, cpuMicros: cpuMicrosSince(before), eventsPerCommit: events / Math.max(1, commits) };
  } finally {
    await monitor?.stop();
    await store.close();
  }
}

/**
 * Raw better-sqlite3 INSERTs of the same rows, `perTransaction` batches per transaction: as few fsyncs as the
 * store's group commit can reach with that many appends in flight.
 */
export function rawInserts(
  dir: string,
  batches: readonly (readonly NewEvent[])[],
  perTransaction = IN_FLIGHT,
): PassCost {
  const db = openRawEventsDb(dir);
  try {
    const insert = db.prepare(INSERT_EVENT);
    const revisions = new Map<string, number>();
    let position = -1;
    const writeBatches = db.transaction((group: readonly (readonly NewEvent[])[]) => {
      for (const events of group) {
        const stream = viewStream(events);
        let revision = revisions.get(stream) ?? -1;
        for (const event of events) {
          insert.run(
            ++position,
            event.eventId,
            stream,
            ++revision,
            event.type,
            JSON.stringify(event.data),
            null,
          );
        }
        revisions.set(stream, revision);
      }
    });
    const before = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < batches.length; i += perTransaction)
      writeBatches.immediate(batches.slice(i, i + perTransaction));
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpuMicros: cpuMicrosSince(before) };
  } finally {
    db.close();
  }
}

function cpuMicrosSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { viewEvents, type FleetShape } from '../lib/fixtures';
import { median, paired, perSecond, result } from '../lib/stats';
import type { Suite } from '../lib/types';
import { rawInserts, throughStore } from './ingest-embedded';

const SHAPE: FleetShape = { devices: 20_000, users: 40_000, viewersPerDevice: 2, revokeEvery: 0 };
/** As many appends in flight as the HTTP benches' connections: each authorization appends one view. */
const IN_FLIGHT = 32;

type Side = 'thread' | 'inline' | 'raw';

interface SideOutcome {
  readonly ms: number;
  /** Process CPU (every thread: user + system) per append, in µs. */
  readonly cpuUs: number;
}

/**
 * append.embedded: the write of an authorization, without HTTP. One-view appends to the views' shard streams,
 * `IN_FLIGHT` in a closed loop, through the store port as the service opens it (commits on the writer thread),
 * and committed inline on the event loop, against raw better-sqlite3 inserting the same rows `IN_FLIGHT` per
 * transaction (the durable peer of authorize.http commits what arrived in one turn of its loop: the same
 * groups). Throughput and CPU per append of the whole process, so the writer thread's own cost is counted.
 */
export const appendEmbedded: Suite = async (context, log) => {
  const total = context.quick ? 20_000 : 100_000;
  const appends = viewEvents(0, total, SHAPE).map((event) => [event]);
  const throughput = paired();
  const cpu = paired();
  const inlineCpu = paired();
  const groupSizes: number[] = [];
  for (let round = 0; round < context.rounds; round++) {
    const order: readonly Side[] = [
      ['thread', 'inline', 'raw'],
      ['raw', 'inline', 'thread'],
      ['inline', 'raw', 'thread'],
    ][round % 3] as Side[];
    const outcomes: Partial<Record<Side, SideOutcome>> = {};
    for (const side of order) {
      const dir = fs.mkdtempSync(path.join(context.workDir, `append-${side}-`));
      try {
        if (side === 'raw') {
          const cost = rawInserts(dir, appends, IN_FLIGHT);
          outcomes.raw = { ms: cost.ms, cpuUs: cost.cpuMicros / total };
        } else {
          const cost = await throughStore(dir, appends, {
            inFlight: IN_FLIGHT,
            writerThread: side === 'thread',
          });
          outcomes[side] = { ms: cost.ms, cpuUs: cost.cpuMicros / total };
          if (side === 'thread') groupSizes.push(cost.eventsPerCommit);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    const { thread, inline, raw } = outcomes as Record<Side, SideOutcome>;
    throughput.ours.push(perSecond(total, thread.ms));
    throughput.theirs.push(perSecond(total, raw.ms));
    cpu.ours.push(thread.cpuUs);
    cpu.theirs.push(raw.cpuUs);
    inlineCpu.ours.push(inline.cpuUs);
    inlineCpu.theirs.push(raw.cpuUs);
    log(
      `round ${round + 1}: writer thread ${Math.round(perSecond(total, thread.ms))}/s ${thread.cpuUs.toFixed(1)} µs CPU; ` +
        `inline ${Math.round(perSecond(total, inline.ms))}/s ${inline.cpuUs.toFixed(1)} µs; ` +
        `raw ${Math.round(perSecond(total, raw.ms))}/s ${raw.cpuUs.toFixed(1)} µs`,
    );
  }
  const baseline = `raw better-sqlite3 INSERTs of the same rows, ${IN_FLIGHT} per transaction, same schema and pragmas (WAL, synchronous=FULL)`;
  return {
    results: [
      result('append.embedded', 'appends/s', baseline, throughput, true),
      result('append.embedded.cpu', 'µs CPU/append (all threads)', baseline, cpu, false),
      result(
        'append.embedded.inline.cpu',
        'µs CPU/append, committed on the event loop',
        baseline,
        inlineCpu,
        false,
      ),
    ],
    notes: [
      `append.embedded: ${total.toLocaleString('en-US')} one-view appends per round, ${IN_FLIGHT} in flight; ` +
        `group commit on the writer thread wrote a median ${Math.round(median(groupSizes))} events per transaction.`,
    ],
  };
};

import { RelationshipTable } from '@ledger/projections';
import { deviceId, ownerOf, recordedHistory, userId, viewerOf, type FleetShape } from '../lib/fixtures';
import { paired, result } from '../lib/stats';
import type { Suite } from '../lib/types';

/** 250,000 devices with an owner and three viewers each: 1,000,000 (user, device) relationships. */
const SHAPE: FleetShape = { devices: 250_000, users: 500_000, viewersPerDevice: 3, revokeEvery: 0 };

function settledHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the memory suite needs node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * memory.relationship: heap bytes per relationship of a RelationshipTable holding 1M (user, device) pairs,
 * built by applying the log's events (fresh id strings per event, as JSON.parse gives them), against a naive
 * cache: a Map from a "user|device" string to the role. heapUsed after a forced GC, before and after building.
 */
export const memory: Suite = async (context, log) => {
  const rounds = paired();
  let relationships = 0;
  for (let round = 0; round < context.rounds; round++) {
    const before = settledHeap();
    let table: RelationshipTable | null = new RelationshipTable();
    let position = 0;
    for (let d = 0; d < SHAPE.devices; d++) {
      for (const event of recordedHistory(d, SHAPE, position)) table.apply(event);
      position += 8;
    }
    relationships = table.relationshipCount;
    const ours = (settledHeap() - before) / relationships;
    table = null;

    const beforeMap = settledHeap();
    let naive: Map<string, string> | null = new Map<string, string>();
    for (let d = 0; d < SHAPE.devices; d++) {
      naive.set(`${userId(ownerOf(d, SHAPE))}|${deviceId(d)}`, 'owner');
      for (let k = 0; k < SHAPE.viewersPerDevice; k++)
        naive.set(`${userId(viewerOf(d, k, SHAPE))}|${deviceId(d)}`, 'viewer');
    }
    const theirs = (settledHeap() - beforeMap) / naive.size;
    naive = null;
    rounds.ours.push(ours);
    rounds.theirs.push(theirs);
    log(
      `round ${round + 1}: ${Math.round(ours)} bytes/relationship, naive Map ${Math.round(theirs)} bytes/entry`,
    );
  }
  return {
    results: [
      result(
        'memory.relationship',
        'bytes/relationship',
        'naive cache: Map<"user|device", role> with the same pairs (current role only, no history)',
        rounds,
        false,
      ),
    ],
    notes: [
      `memory.relationship: ${relationships.toLocaleString('en-US')} relationships (${SHAPE.devices.toLocaleString('en-US')} devices, ` +
        `owner + ${SHAPE.viewersPerDevice} viewers each), heapUsed after global.gc() before and after building.`,
    ],
  };
};

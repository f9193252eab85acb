import { RelationshipTable } from '@ledger/projections';
import {
  currentRoles,
  deviceId,
  FIXTURE_NOW,
  ownerOf,
  recordedHistory,
  userId,
  viewerOf,
  type FleetShape,
} from '../lib/fixtures';
import { paired, perSecond, result, timeIt } from '../lib/stats';
import type { Suite } from '../lib/types';

const SHAPE: FleetShape = { devices: 100_000, users: 200_000, viewersPerDevice: 2, revokeEvery: 10 };

/**
 * check.inproc: `RelationshipTable.check` (the §2 judgement every /v1/check makes) against the cheapest
 * possible cache: one `Map.get` on a precomputed `user|device` key holding the current role, over the same
 * keys (half of them allowed, half denied).
 */
export const checkInproc: Suite = async (context, log) => {
  const table = new RelationshipTable();
  let position = 0;
  for (let d = 0; d < SHAPE.devices; d++) {
    for (const event of recordedHistory(d, SHAPE, position)) table.apply(event);
    position += 8;
  }
  const current = currentRoles(SHAPE);
  const count = context.quick ? 1_000_000 : 2_000_000;
  const users = new Array<string>(count);
  const devices = new Array<string>(count);
  const keys = new Array<string>(count);
  let seed = 12345;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < count; i++) {
    const d = next(SHAPE.devices);
    const roll = next(4);
    const user =
      roll === 0
        ? ownerOf(d, SHAPE)
        : roll === 1
          ? viewerOf(d, next(SHAPE.viewersPerDevice), SHAPE)
          : next(SHAPE.users);
    users[i] = userId(user);
    devices[i] = deviceId(d);
    keys[i] = `${users[i]}|${devices[i]}`;
  }
  const passes = 3;
  const ours = (): number => {
    let allowed = 0;
    for (let p = 0; p < passes; p++) {
      for (let i = 0; i < count; i++) if (table.check(users[i], devices[i], FIXTURE_NOW).allowed) allowed++;
    }
    return allowed;
  };
  const baseline = (): number => {
    let allowed = 0;
    for (let p = 0; p < passes; p++) {
      for (let i = 0; i < count; i++) if (current.get(keys[i]) !== undefined) allowed++;
    }
    return allowed;
  };
  // Both answer the same question; a disagreement would make the comparison meaningless.
  const expected = baseline();
  if (ours() !== expected) throw new Error('RelationshipTable.check and the Map disagree on who is allowed');
  const rounds = paired();
  for (let round = 0; round < context.rounds; round++) {
    const order = round % 2 === 0 ? [true, false] : [false, true];
    for (const isOurs of order) {
      const ms = await timeIt(isOurs ? ours : baseline);
      (isOurs ? rounds.ours : rounds.theirs).push(perSecond(count * passes, ms));
    }
    log(
      `round ${round + 1}: check ${Math.round(rounds.ours[round])}/s, Map.get ${Math.round(rounds.theirs[round])}/s`,
    );
  }
  return {
    results: [
      result(
        'check.inproc',
        'checks/s',
        'Map.get on a precomputed "user|device" key holding the current role (no history, no reasons)',
        rounds,
        true,
      ),
    ],
    notes: [
      `check.inproc: ${SHAPE.devices.toLocaleString('en-US')} devices, ${table.relationshipCount.toLocaleString('en-US')} relationships; ` +
        `${count.toLocaleString('en-US')} keys x ${passes} passes per measurement, ${Math.round((expected / passes / count) * 100)}% allowed.`,
    ],
  };
};

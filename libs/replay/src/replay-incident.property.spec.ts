import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  decide,
  evolve,
  formatTime,
  DomainError,
  type DenialReason,
  type DeviceCommand,
  type DeviceEvent,
  type DeviceState,
} from '@ledger/domain';
import type { ReplayRequest } from './incident-report';
import { replayIncident } from './replay-incident';
import { HistoryBuilder } from './testing/history-builder';
import { InMemoryEventStore } from './testing/in-memory-event-store';
import { ViewColumns } from './view-columns/view-columns';

/**
 * A reference model of contract §2 written from the rule's text, sharing no code with the domain's
 * access timeline: replay a device's changes dated at or before `t` as a state machine ("who has access
 * now, and what ended each user's last access"), with expiries taking effect as time passes them.
 */
function referenceJudge(
  changes: readonly DeviceEvent[],
  viewerId: string,
  t: number,
): { allowed: true } | { allowed: false; reason: DenialReason; ownerId: string | null } {
  const ms = (s: string): number => Date.parse(s);
  const registered = changes.find((e) => e.type === 'DeviceRegistered');
  if (!registered || ms(registered.data.occurredAt) > t)
    return { allowed: false, reason: 'unknown_device', ownerId: null };
  const decommissioned = changes.find((e) => e.type === 'DeviceDecommissioned');
  if (decommissioned && ms(decommissioned.data.occurredAt) <= t) {
    return { allowed: false, reason: 'decommissioned', ownerId: null };
  }
  const current = new Map<string, { role: 'owner' | 'viewer'; expiresAt: number }>();
  const lastEnded = new Map<string, DenialReason>();
  const end = (userId: string, reason: DenialReason): void => {
    current.delete(userId);
    lastEnded.set(userId, reason);
  };
  const expireUpTo = (time: number): void => {
    for (const [userId, access] of [...current]) {
      if (access.role === 'viewer' && access.expiresAt <= time) end(userId, 'expired');
    }
  };
  for (const event of changes) {
    const at = ms(event.data.occurredAt);
    if (at > t) break;
    expireUpTo(at);
    switch (event.type) {
      case 'DeviceRegistered':
        current.set(event.data.ownerId, { role: 'owner', expiresAt: Infinity });
        break;
      case 'AccessGranted': {
        const expiresAt = event.data.expiresAt === undefined ? Infinity : ms(event.data.expiresAt);
        current.set(event.data.userId, { role: 'viewer', expiresAt });
        break;
      }
      case 'AccessRevoked':
        if (current.get(event.data.userId)?.role === 'viewer') end(event.data.userId, 'revoked');
        break;
      case 'OwnershipTransferred':
        end(event.data.previousOwnerId, 'transferred');
        if (!event.data.keepViewers) {
          for (const userId of [...current.keys()]) end(userId, 'transferred');
        } else if (current.has(event.data.newOwnerId)) {
          end(event.data.newOwnerId, 'transferred');
        }
        current.set(event.data.newOwnerId, { role: 'owner', expiresAt: Infinity });
        break;
      case 'DeviceDecommissioned':
        for (const userId of [...current.keys()]) end(userId, 'decommissioned');
        break;
    }
  }
  expireUpTo(t);
  if (current.has(viewerId)) return { allowed: true };
  const ownerId = [...current].find(([, access]) => access.role === 'owner')?.[0] ?? null;
  return { allowed: false, reason: lastEnded.get(viewerId) ?? 'never_granted', ownerId };
}

const BASE = Date.UTC(2024, 1, 16, 9, 0, 0);
const DEVICES = ['d0', 'd1', 'd2'];
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];

const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const commandArb = fc.record({
  op: fc.oneof(
    { weight: 4, arbitrary: fc.constant('grant' as const) },
    { weight: 3, arbitrary: fc.constant('revoke' as const) },
    { weight: 2, arbitrary: fc.constant('transfer' as const) },
    { weight: 1, arbitrary: fc.constantFrom('register' as const, 'decommission' as const) },
  ),
  device: fc.nat(DEVICES.length - 1),
  user: fc.nat(USERS.length - 1),
  dt: fc.constantFrom(0, 0, 1, 999, 1000, 60_000),
  expiry: fc.option(fc.constantFrom(1, 1000, 1001, 60_000), { nil: undefined, freq: 2 }),
  keepViewers: fc.boolean(),
});

const scenarioArb = fc.record({
  owners: fc.array(fc.nat(USERS.length - 1), { minLength: DEVICES.length, maxLength: DEVICES.length }),
  commands: fc.array(commandArb, { minLength: 1, maxLength: 40, size: 'medium' }),
  views: fc.array(
    fc.record({
      viewer: fc.nat(USERS.length - 1),
      device: fc.nat(DEVICES.length), // DEVICES.length: a device that is never registered
      anchor: fc.nat(200),
      offset: fc.constantFrom(-1, 0, 0, 1, 500),
      mediaType: fc.constantFrom('thumbnail', 'event_video', 'live_stream' as const),
      action: fc.constantFrom('delivered', 'opened', 'played' as const),
    }),
    { minLength: 1, maxLength: 60, size: 'medium' },
  ),
  ingestKeys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 100, maxLength: 100 }),
  window: fc.record({ from: rarely(fc.nat(200)), to: rarely(fc.nat(200)) }),
  deviceFilter: rarely(fc.subarray(DEVICES, { minLength: 1 })),
  viewerFilter: rarely(fc.subarray(USERS, { minLength: 1 })),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

function commandFor(c: Scenario['commands'][number], state: DeviceState, at: number): DeviceCommand {
  const base = { deviceId: DEVICES[c.device], actor: 'svc:test', occurredAt: at, recordedAt: at };
  const userId = USERS[c.user];
  switch (c.op) {
    case 'register':
      return { type: 'RegisterDevice', data: { ...base, ownerId: userId } };
    case 'grant':
      return {
        type: 'GrantAccess',
        data: { ...base, userId, ...(c.expiry === undefined ? {} : { expiresAt: at + c.expiry }) },
      };
    case 'revoke':
      return { type: 'RevokeAccess', data: { ...base, userId } };
    case 'transfer':
      return {
        type: 'TransferOwnership',
        data: { ...base, newOwnerId: userId, keepViewers: c.keepViewers && state !== null },
      };
    default:
      return { type: 'DecommissionDevice', data: base };
  }
}

describe('replayIncident agrees with an independent model of §2 on random histories', () => {
  let dataDir: string;
  beforeAll(() => (dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-property-'))));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('finds exactly the unauthorized views, with the model’s reason and owner', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        // given: a valid history (the decider drops what §2 forbids), views at and around every instant
        const history = new HistoryBuilder();
        const changes = new Map<string, DeviceEvent[]>(DEVICES.map((d) => [d, []]));
        const states = new Map<string, DeviceState>();
        const instants: number[] = [BASE];
        let clock = BASE;
        const registrations: Scenario['commands'] = scenario.owners.map((owner, device) => ({
          op: 'register',
          device,
          user: owner,
          dt: 0,
          expiry: undefined,
          keepViewers: false,
        }));
        for (const c of [...registrations, ...scenario.commands]) {
          clock += c.dt;
          const deviceId = DEVICES[c.device];
          const state = states.get(deviceId) ?? null;
          try {
            const [event] = decide(commandFor(c, state, clock), state);
            states.set(deviceId, evolve(state, event));
            changes.get(deviceId)?.push(event);
            history.change(event);
            instants.push(clock);
            if (event.type === 'AccessGranted' && event.data.expiresAt)
              instants.push(Date.parse(event.data.expiresAt));
          } catch (error) {
            if (!(error instanceof DomainError)) throw error;
          }
        }
        const allDevices = [...DEVICES, 'never-registered'];
        const views = scenario.views.map((v) => {
          const at = instants[v.anchor % instants.length] + v.offset;
          const viewerId = USERS[v.viewer];
          const deviceId = allDevices[v.device];
          const eventId = history.view(viewerId, deviceId, at, { mediaType: v.mediaType, action: v.action });
          return { eventId, viewerId, deviceId, at };
        });
        // ingested in a random order, each device's changes still in their own order
        const keyed = history.items.map((_item, i) => ({ i, key: scenario.ingestKeys[i % 100] + i * 1e-9 }));
        const order = keyed.sort((a, b) => a.key - b.key).map((k) => k.i);
        const slots = new Map<string, number[]>();
        order.forEach((itemIndex, slot) => {
          const stream = history.items[itemIndex].stream;
          if (!stream.startsWith('device-')) return;
          slots.set(stream, [...(slots.get(stream) ?? []), slot]);
        });
        for (const [stream, used] of slots) {
          const inOrder = used.map((slot) => order[slot]).sort((a, b) => a - b);
          used.forEach((slot, k) => (order[slot] = inOrder[k]));
          expect(history.items[inOrder[0]].stream).toBe(stream);
        }
        const store = new InMemoryEventStore();
        await history.appendTo(store, order);

        const windowTimes = [scenario.window.from, scenario.window.to].map((a) =>
          a === undefined ? undefined : instants[a % instants.length],
        );
        const from = windowTimes[0];
        const to =
          from !== undefined && windowTimes[1] !== undefined && from >= windowTimes[1]
            ? undefined
            : windowTimes[1];
        const request: ReplayRequest = {
          ...(from === undefined ? {} : { from: formatTime(from) }),
          ...(to === undefined ? {} : { to: formatTime(to) }),
          ...(scenario.deviceFilter ? { deviceIds: scenario.deviceFilter } : {}),
          ...(scenario.viewerFilter ? { viewerIds: scenario.viewerFilter } : {}),
        };

        // when
        const report = await replayIncident(store, request, { pageSize: 7 });
        // The views projection built over the same log must give the very same report.
        const columns = new ViewColumns(dataDir);
        columns.discard();
        expect(await replayIncident(store, request, { pageSize: 7, columns })).toEqual(report);

        // then
        const examined = views.filter(
          (v) =>
            (from === undefined || v.at >= from) &&
            (to === undefined || v.at < to) &&
            (!scenario.deviceFilter || scenario.deviceFilter.includes(v.deviceId)) &&
            (!scenario.viewerFilter || scenario.viewerFilter.includes(v.viewerId)),
        );
        const expected = new Map<string, { reason: DenialReason; ownerId: string | null }>();
        for (const v of examined) {
          const judged = referenceJudge(changes.get(v.deviceId) ?? [], v.viewerId, v.at);
          if (!judged.allowed) expected.set(v.eventId, { reason: judged.reason, ownerId: judged.ownerId });
        }
        expect(report.summary.viewsExamined).toBe(examined.length);
        const actual = new Map(
          report.exposures.map((e) => [e.eventId, { reason: e.reason, ownerId: e.ownerId }]),
        );
        expect(actual).toEqual(expected);
        const times = report.exposures.map((e) => Date.parse(e.occurredAt));
        expect(times).toEqual([...times].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });
});

import {
  applyDeviceEvent,
  decide,
  judge,
  type DeviceCommand,
  type DeviceState,
  type Millis,
} from '@ledger/domain';
import { expectedReason, planFleet, type FleetChange, type FleetDevice } from './fleet';
import { fleetOfDevices } from './packed-fleet';
import { seededRandom } from './random';
import { planStorm, stormPipelines, type StormTally } from './storm';

const NOW = Date.UTC(2024, 1, 16, 9, 41, 7, 123);

function command(deviceId: string, change: FleetChange): DeviceCommand {
  const base = { deviceId, actor: 'svc:test', occurredAt: change.at, recordedAt: NOW };
  switch (change.op) {
    case 'register':
      return { type: 'RegisterDevice', data: { ...base, ownerId: change.ownerId } };
    case 'grant':
      return { type: 'GrantAccess', data: { ...base, userId: change.userId, expiresAt: change.expiresAt } };
    case 'revoke':
      return { type: 'RevokeAccess', data: { ...base, userId: change.userId } };
    case 'transfer':
      return {
        type: 'TransferOwnership',
        data: { ...base, newOwnerId: change.newOwnerId, keepViewers: change.keepViewers },
      };
    case 'decommission':
      return { type: 'DecommissionDevice', data: base };
  }
}

/** The device's history as the ledger's own decider and timeline see it (throws on any rule violation). */
function ledgerTimeline(device: FleetDevice): DeviceState {
  let state: DeviceState = null;
  for (const change of device.changes) {
    for (const event of decide(command(device.deviceId, change), state))
      state = applyDeviceEvent(state, event);
  }
  return state;
}

describe('the simulated fleet and storm', () => {
  const fleet = planFleet({ devices: 3000, users: 4500, now: NOW }, seededRandom(42));

  it('has a history with every way of losing access', () => {
    expect(fleet.devices).toHaveLength(3000);
    expect(fleet.counts.revokes).toBeGreaterThan(0);
    expect(fleet.counts.expired).toBeGreaterThan(0);
    expect(fleet.counts.transfers).toBeGreaterThan(0);
    expect(fleet.counts.decommissioned).toBeGreaterThan(0);
  });

  it('keeps a ground truth that agrees with the ledger’s own §2 rule for every user it knows of', () => {
    const strangers = fleet.users.slice(0, 25);
    const reasons = new Set<string>();
    const disagreements: string[] = [];
    const at: Millis = NOW + 60_000;
    for (const device of fleet.devices) {
      const timeline = ledgerTimeline(device);
      for (const userId of new Set([...device.authorized, ...device.ended.keys(), ...strangers])) {
        const judgement = judge(timeline, userId, at);
        const actual = judgement.allowed ? null : judgement.reason;
        const expected = expectedReason(device, userId);
        if (actual !== expected)
          disagreements.push(`${device.deviceId}/${userId}: ledger ${actual}, simulator ${expected}`);
        if (expected !== null) reasons.add(expected);
      }
    }
    expect(disagreements).toEqual([]);
    expect([...reasons].sort()).toEqual([
      'decommissioned',
      'expired',
      'never_granted',
      'revoked',
      'transferred',
    ]);
  });

  it('is the same fleet and storm for the same seed', () => {
    const again = planFleet({ devices: 3000, users: 4500, now: NOW }, seededRandom(42));
    expect(again.devices.map((d) => d.changes)).toEqual(fleet.devices.map((d) => d.changes));
    const options = { faultRate: 0.02, pipelineDepth: 64, maxEventsPerDevice: 3 };
    const first = planStorm(fleet, options, seededRandom(9));
    const second = planStorm(again, options, seededRandom(9));
    expect(second.deliveries).toEqual(first.deliveries);
    expect(first.mixedUpLookups).toBeGreaterThan(0);
  });

  it('delivers only to entitled users when the cache never mixes answers up', () => {
    const storm = planStorm(
      fleet,
      { faultRate: 0, pipelineDepth: 64, maxEventsPerDevice: 3 },
      seededRandom(1),
    );
    expect(storm.mixedUpLookups).toBe(0);
    expect(storm.wrongDeliveries).toBe(0);
    expect(storm.deliveries.every((d) => d.authorized && d.reason === null)).toBe(true);
    // Every online device came back with at least one event, offline ones with none.
    const served = new Set(storm.deliveries.map((d) => d.deviceId));
    for (const device of fleet.devices) expect(served.has(device.deviceId)).toBe(device.online);
  });

  it('mixes answers up only between requests of one pipeline', () => {
    const lone = planStorm(fleet, { faultRate: 1, pipelineDepth: 1, maxEventsPerDevice: 2 }, seededRandom(1));
    expect(lone.mixedUpLookups).toBe(0);
    const crowded = planStorm(
      fleet,
      { faultRate: 1, pipelineDepth: 32, maxEventsPerDevice: 2 },
      seededRandom(1),
    );
    expect(crowded.mixedUpLookups).toBe(crowded.lookups);
    // A mix-up between two cameras of one household is no exposure: wrong deliveries are fewer than deliveries.
    expect(crowded.wrongDeliveries).toBeGreaterThan(0);
    expect(crowded.wrongDeliveries).toBeLessThan(crowded.deliveries.length);
  });

  it('is made one cache pipeline at a time, the same deliveries as the whole plan', () => {
    const options = { faultRate: 0.02, pipelineDepth: 64, maxEventsPerDevice: 3 };
    const tally: StormTally = { lookups: 0, mixedUpLookups: 0, deliveries: 0, wrongDeliveries: 0 };
    const pipelines = stormPipelines(fleetOfDevices(fleet.devices), options, seededRandom(9), tally);
    const first = pipelines.next();
    if (first.done) throw new Error('no pipeline');
    const whole = planStorm(fleet, options, seededRandom(9));
    // Every lookup is known up front; only the first pipeline's deliveries are made.
    expect(tally.lookups).toBe(whole.lookups);
    expect(tally.deliveries).toBe(first.value.length);
    expect(tally.deliveries).toBeLessThan(whole.deliveries.length);
    const rest = [...pipelines].flat();
    expect([...first.value, ...rest]).toEqual(whole.deliveries);
    expect(tally).toEqual({
      lookups: whole.lookups,
      mixedUpLookups: whole.mixedUpLookups,
      deliveries: whole.deliveries.length,
      wrongDeliveries: whole.wrongDeliveries,
    });
  });
});

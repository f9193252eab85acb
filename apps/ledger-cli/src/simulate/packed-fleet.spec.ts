import { planFleet } from './fleet';
import { fleetOfDevices, PackedFleet } from './packed-fleet';
import { seededRandom } from './random';
import { planStorm, stormPipelines, type StormTally } from './storm';

const NOW = Date.UTC(2024, 1, 16, 9, 41, 7, 123);

describe('the packed fleet', () => {
  const options = { devices: 3000, users: 4500, now: NOW, idPrefix: 'sim1.' };
  const planned = planFleet(options, seededRandom(5));
  const packed = PackedFleet.plan(options, seededRandom(5));

  it('reads every device back as planned: owner, online, who may see it and why the others may not', () => {
    expect(packed.length).toBe(planned.devices.length);
    expect(packed.counts).toEqual(planned.counts);
    const differing = planned.devices.filter((device, index) => {
      const { changes: _history, ...truth } = device;
      const read = packed.device(index);
      return (
        JSON.stringify({ ...read, authorized: [...read.authorized], ended: [...read.ended] }) !==
          JSON.stringify({ ...truth, authorized: [...truth.authorized], ended: [...truth.ended] }) ||
        packed.isOnline(index) !== device.online
      );
    });
    expect(differing.map((device) => device.deviceId)).toEqual([]);
    expect(planned.counts.transfers).toBeGreaterThan(0);
    expect(planned.counts.decommissioned).toBeGreaterThan(0);
  });

  it('makes the same storm, draw for draw, as the planned devices', () => {
    const storm = { faultRate: 0.05, pipelineDepth: 64, maxEventsPerDevice: 3 };
    const random = seededRandom(5);
    const fleet = PackedFleet.plan(options, random);
    const tally: StormTally = { lookups: 0, mixedUpLookups: 0, deliveries: 0, wrongDeliveries: 0 };
    const fromPacked = [...stormPipelines(fleet, storm, random, tally)].flat();

    const again = seededRandom(5);
    const whole = planStorm(planFleet(options, again), storm, again);
    expect(fromPacked).toEqual(whole.deliveries);
    expect(tally.wrongDeliveries).toBe(whole.wrongDeliveries);
    expect(whole.wrongDeliveries).toBeGreaterThan(0);
    expect(fleetOfDevices(planned.devices).length).toBe(packed.length);
  });
});

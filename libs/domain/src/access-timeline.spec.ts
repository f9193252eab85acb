import { accessAt, judge, ownerAt, type Judgement } from './access-timeline';
import { foldDeviceEvents } from './device.decider';
import type { DeviceEvent } from './events';

const T = (second: number): number => Date.UTC(2024, 1, 16, 9, 0, second);
const iso = (second: number): string => new Date(T(second)).toISOString();
const ev = (type: DeviceEvent['type'], second: number, extra: Record<string, unknown> = {}): DeviceEvent =>
  ({
    type,
    data: { deviceId: 'cam', actor: 'a', occurredAt: iso(second), recordedAt: iso(second), ...extra },
  }) as DeviceEvent;

const allowed = (role: 'owner' | 'viewer'): Judgement => ({ allowed: true, role });
const denied = (reason: string): Judgement => ({ allowed: false, reason }) as Judgement;

describe('§2 access rule at interval edges', () => {
  const history = foldDeviceEvents([
    ev('DeviceRegistered', 10, { ownerId: 'own' }),
    ev('AccessGranted', 20, { userId: 'v1' }),
    ev('AccessRevoked', 30, { userId: 'v1' }),
    ev('AccessGranted', 30, { userId: 'v2', expiresAt: iso(40) }),
    ev('AccessGranted', 35, { userId: 'v3', expiresAt: iso(45) }),
    ev('AccessGranted', 44, { userId: 'v3', expiresAt: iso(60) }),
    ev('AccessGranted', 46, { userId: 'v4' }),
    ev('OwnershipTransferred', 50, { previousOwnerId: 'own', newOwnerId: 'new', keepViewers: false }),
    ev('AccessGranted', 55, { userId: 'v5' }),
    ev('OwnershipTransferred', 58, { previousOwnerId: 'new', newOwnerId: 'v5', keepViewers: true }),
    ev('DeviceDecommissioned', 70),
  ]);

  const table: Array<[string, string, number, Judgement]> = [
    ['before registration', 'own', 9, denied('unknown_device')],
    ['owner at the registration instant', 'own', 10, allowed('owner')],
    ['a stranger', 'nobody', 25, denied('never_granted')],
    ['viewer before its grant', 'v1', 19, denied('never_granted')],
    ['viewer at the grant instant', 'v1', 20, allowed('viewer')],
    ['viewer just before the revoke', 'v1', 29.999, allowed('viewer')],
    ['viewer at the revoke instant', 'v1', 30, denied('revoked')],
    ['viewer at the expiry instant', 'v2', 40, denied('expired')],
    ['viewer just before expiry', 'v2', 39.999, allowed('viewer')],
    ['re-grant keeps the interval unbroken across the old expiry', 'v3', 45, allowed('viewer')],
    ['re-grant is cut short by a transfer without keepViewers', 'v3', 50, denied('transferred')],
    ['viewer dropped by the transfer', 'v4', 50, denied('transferred')],
    ['old owner at the transfer instant', 'own', 50, denied('transferred')],
    ['old owner just before the transfer', 'own', 49.999, allowed('owner')],
    ['new owner at the transfer instant', 'new', 50, allowed('owner')],
    ['viewer who becomes owner keeps access across the transfer', 'v5', 58, allowed('owner')],
    ['previous owner after a keepViewers transfer', 'new', 60, denied('transferred')],
    ['owner at the decommission instant', 'v5', 70, denied('decommissioned')],
    ['stranger after decommission', 'nobody', 80, denied('decommissioned')],
    ['expired viewer after decommission', 'v2', 80, denied('decommissioned')],
  ];

  it.each(table)('%s', (_name, user, second, expected) => {
    expect(judge(history, user, T(0) + second * 1000)).toEqual(expected);
  });

  it('reports the owner at each instant', () => {
    expect(ownerAt(history, T(9))).toBeNull();
    expect(ownerAt(history, T(49))).toBe('own');
    expect(ownerAt(history, T(50))).toBe('new');
    expect(ownerAt(history, T(58))).toBe('v5');
    expect(ownerAt(history, T(70))).toBeNull();
  });

  it('lists who has access at an instant, owner first', () => {
    expect(accessAt(history!, T(36)).map((a) => [a.userId, a.role, a.expiresAt])).toEqual([
      ['own', 'owner', null],
      ['v2', 'viewer', T(40)],
      // v3's expiry was extended, then cut short by the transfer: at the end of history it has no expiry.
      ['v3', 'viewer', null],
    ]);
  });

  it('an unknown device is unknown at every instant', () => {
    expect(judge(undefined, 'own', T(10))).toEqual(denied('unknown_device'));
  });

  it('an empty interval (grant and revoke at one instant) ends as revoked at that instant', () => {
    const t = foldDeviceEvents([
      ev('DeviceRegistered', 0, { ownerId: 'o' }),
      ev('AccessGranted', 5, { userId: 'v' }),
      ev('AccessRevoked', 5, { userId: 'v' }),
    ]);
    expect(judge(t, 'v', T(5))).toEqual(denied('revoked'));
    expect(judge(t, 'v', T(4))).toEqual(denied('never_granted'));
  });

  it('an expiry before a transfer stays an expiry', () => {
    const t = foldDeviceEvents([
      ev('DeviceRegistered', 0, { ownerId: 'o' }),
      ev('AccessGranted', 5, { userId: 'v', expiresAt: iso(10) }),
      ev('OwnershipTransferred', 20, { previousOwnerId: 'o', newOwnerId: 'n', keepViewers: false }),
    ]);
    expect(judge(t, 'v', T(25))).toEqual(denied('expired'));
  });

  it('a re-grant after expiry starts a new interval', () => {
    const t = foldDeviceEvents([
      ev('DeviceRegistered', 0, { ownerId: 'o' }),
      ev('AccessGranted', 5, { userId: 'v', expiresAt: iso(10) }),
      ev('AccessGranted', 15, { userId: 'v' }),
    ]);
    expect(judge(t, 'v', T(12))).toEqual(denied('expired'));
    expect(judge(t, 'v', T(15))).toEqual(allowed('viewer'));
    expect(judge(t, 'v', T(9))).toEqual(allowed('viewer'));
  });
});

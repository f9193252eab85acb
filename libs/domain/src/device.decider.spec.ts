import { decide, foldDeviceEvents, type DeviceCommand, evolve, initialState } from './device.decider';
import type { DeviceEvent } from './events';
import {
  AlreadyOwnerError,
  DeviceAlreadyRegisteredError,
  DeviceDecommissionedError,
  DeviceNotFoundError,
  InvalidInputError,
  NoActiveAccessError,
  OutOfOrderChangeError,
  OwnerAccessChangeError,
} from './errors';

const T = (minute: number, ms = 0): number => Date.UTC(2024, 1, 16, 9, minute, 0, ms);
const iso = (minute: number, ms = 0): string => new Date(T(minute, ms)).toISOString();
const NOW = T(59);

const registered = (minute = 0, ownerId = 'alice'): DeviceEvent => ({
  type: 'DeviceRegistered',
  data: {
    deviceId: 'cam-1',
    ownerId,
    actor: 'svc:provisioning',
    occurredAt: iso(minute),
    recordedAt: iso(minute),
  },
});
const granted = (userId: string, minute: number, expiresMinute?: number): DeviceEvent => ({
  type: 'AccessGranted',
  data: {
    deviceId: 'cam-1',
    userId,
    actor: 'alice',
    occurredAt: iso(minute),
    recordedAt: iso(minute),
    ...(expiresMinute === undefined ? {} : { expiresAt: iso(expiresMinute) }),
  },
});
const revoked = (userId: string, minute: number): DeviceEvent => ({
  type: 'AccessRevoked',
  data: { deviceId: 'cam-1', userId, actor: 'alice', occurredAt: iso(minute), recordedAt: iso(minute) },
});
const transferred = (from: string, to: string, minute: number, keepViewers = false): DeviceEvent => ({
  type: 'OwnershipTransferred',
  data: {
    deviceId: 'cam-1',
    previousOwnerId: from,
    newOwnerId: to,
    keepViewers,
    actor: 'support:alice',
    occurredAt: iso(minute),
    recordedAt: iso(minute),
  },
});
const decommissioned = (minute: number): DeviceEvent => ({
  type: 'DeviceDecommissioned',
  data: { deviceId: 'cam-1', actor: 'alice', occurredAt: iso(minute), recordedAt: iso(minute) },
});

const base = { deviceId: 'cam-1', actor: 'alice', recordedAt: NOW };
const register = (minute: number, ownerId = 'alice'): DeviceCommand => ({
  type: 'RegisterDevice',
  data: { ...base, actor: 'svc:provisioning', ownerId, occurredAt: T(minute) },
});
const grant = (userId: string, minute: number, expiresMinute?: number): DeviceCommand => ({
  type: 'GrantAccess',
  data: {
    ...base,
    userId,
    occurredAt: T(minute),
    ...(expiresMinute === undefined ? {} : { expiresAt: T(expiresMinute) }),
  },
});
const revoke = (userId: string, minute: number): DeviceCommand => ({
  type: 'RevokeAccess',
  data: { ...base, userId, occurredAt: T(minute) },
});
const transfer = (to: string, minute: number, keepViewers = false): DeviceCommand => ({
  type: 'TransferOwnership',
  data: { ...base, actor: 'support:alice', newOwnerId: to, keepViewers, occurredAt: T(minute) },
});
const decommission = (minute: number): DeviceCommand => ({
  type: 'DecommissionDevice',
  data: { ...base, occurredAt: T(minute) },
});

type Then = { events: DeviceEvent[] } | { error: new (...args: never[]) => Error };

const given = (events: DeviceEvent[]) => ({
  when: (command: DeviceCommand) => ({
    then: (expected: Then) => {
      const run = () => decide(command, foldDeviceEvents(events));
      if ('error' in expected) expect(run).toThrow(expected.error);
      else
        expect(run()).toEqual(
          expected.events.map((e) => ({ ...e, data: { ...e.data, recordedAt: iso(59) } })),
        );
    },
  }),
});

describe('device decider', () => {
  const cases: Array<[string, DeviceEvent[], DeviceCommand, Then]> = [
    ['registers a new device', [], register(0), { events: [registered(0)] }],
    [
      'refuses a second registration',
      [registered(0)],
      register(1, 'bob'),
      { error: DeviceAlreadyRegisteredError },
    ],
    ['grants a viewer', [registered(0)], grant('bob', 1), { events: [granted('bob', 1)] }],
    ['grants with an expiry', [registered(0)], grant('bob', 1, 5), { events: [granted('bob', 1, 5)] }],
    [
      're-grants a current viewer (replacing the expiry)',
      [registered(0), granted('bob', 1, 5)],
      grant('bob', 2, 9),
      { events: [granted('bob', 2, 9)] },
    ],
    [
      'refuses an expiry not later than the grant',
      [registered(0)],
      grant('bob', 3, 3),
      { error: InvalidInputError },
    ],
    ['refuses to grant the owner', [registered(0)], grant('alice', 1), { error: OwnerAccessChangeError }],
    ['refuses a grant on an unknown device', [], grant('bob', 1), { error: DeviceNotFoundError }],
    [
      'refuses a change dated before the previous one',
      [registered(0), granted('bob', 5)],
      grant('carol', 4),
      { error: OutOfOrderChangeError },
    ],
    [
      'accepts a change dated at the previous one',
      [registered(0), granted('bob', 5)],
      revoke('bob', 5),
      { events: [revoked('bob', 5)] },
    ],
    [
      'revokes an active viewer',
      [registered(0), granted('bob', 1)],
      revoke('bob', 2),
      { events: [revoked('bob', 2)] },
    ],
    [
      'refuses to revoke a user who never had access',
      [registered(0)],
      revoke('bob', 2),
      { error: NoActiveAccessError },
    ],
    [
      'refuses to revoke an expired grant',
      [registered(0), granted('bob', 1, 3)],
      revoke('bob', 3),
      { error: NoActiveAccessError },
    ],
    [
      'refuses to revoke twice',
      [registered(0), granted('bob', 1), revoked('bob', 2)],
      revoke('bob', 3),
      { error: NoActiveAccessError },
    ],
    ['refuses to revoke the owner', [registered(0)], revoke('alice', 1), { error: OwnerAccessChangeError }],
    [
      'transfers ownership',
      [registered(0)],
      transfer('bob', 1),
      { events: [transferred('alice', 'bob', 1)] },
    ],
    [
      'transfers keeping viewers',
      [registered(0), granted('carol', 1)],
      transfer('bob', 2, true),
      { events: [transferred('alice', 'bob', 2, true)] },
    ],
    [
      'refuses a transfer to the current owner',
      [registered(0)],
      transfer('alice', 1),
      { error: AlreadyOwnerError },
    ],
    ['refuses a transfer of an unknown device', [], transfer('bob', 1), { error: DeviceNotFoundError }],
    ['decommissions', [registered(0)], decommission(3), { events: [decommissioned(3)] }],
    [
      'refuses any change after decommission',
      [registered(0), decommissioned(3)],
      grant('bob', 4),
      { error: DeviceDecommissionedError },
    ],
    [
      'refuses a second decommission',
      [registered(0), decommissioned(3)],
      decommission(4),
      { error: DeviceDecommissionedError },
    ],
    [
      'refuses a re-registration after decommission',
      [registered(0), decommissioned(3)],
      register(4),
      { error: DeviceAlreadyRegisteredError },
    ],
    [
      'lets the old owner be granted after a transfer',
      [registered(0), transferred('alice', 'bob', 1)],
      grant('alice', 2),
      { events: [granted('alice', 2)] },
    ],
    [
      'refuses to grant the new owner after a transfer',
      [registered(0), transferred('alice', 'bob', 1)],
      grant('bob', 2),
      { error: OwnerAccessChangeError },
    ],
    [
      'refuses to revoke a viewer dropped by a transfer',
      [registered(0), granted('carol', 1), transferred('alice', 'bob', 2)],
      revoke('carol', 3),
      { error: NoActiveAccessError },
    ],
  ];

  it.each(cases)('%s', (_name, history, command, expected) => given(history).when(command).then(expected));

  it('refuses a business time more than 5 minutes in the future, naming the field', () => {
    const command: DeviceCommand = {
      type: 'RegisterDevice',
      data: { ...base, ownerId: 'alice', occurredAt: NOW + 5 * 60_000 + 1 },
    };
    expect(() => decide(command, initialState())).toThrow(/occurredAt/);
  });

  it('accepts a business time exactly 5 minutes ahead', () => {
    const command: DeviceCommand = {
      type: 'RegisterDevice',
      data: { ...base, ownerId: 'alice', occurredAt: NOW + 5 * 60_000 },
    };
    expect(decide(command, initialState())).toHaveLength(1);
  });

  it('evolve does not mutate the state it is given', () => {
    const state = evolve(initialState(), registered(0));
    const before = JSON.stringify([...state!.access]);
    evolve(state, granted('bob', 1));
    expect(JSON.stringify([...state!.access])).toBe(before);
  });
});

import { Streams } from '@ledger/domain';
import type { JsonObject, RecordedEvent } from '@ledger/event-store';
import { RelationshipTable } from './relationship-table.projection';

const T0 = Date.UTC(2024, 1, 16, 9, 0, 0);
let position = 0;

function recorded(type: string, data: JsonObject): RecordedEvent {
  position++;
  return {
    eventId: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
    stream: Streams.device(data.deviceId as string),
    revision: 0n,
    type,
    data,
    metadata: {},
    position: { commit: BigInt(position), prepare: BigInt(position) },
  };
}

const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const base = (deviceId: string, minutes: number) => ({
  deviceId,
  actor: 'svc:test',
  occurredAt: at(minutes),
  recordedAt: at(minutes),
});

describe('a user’s devices in the relationship table', () => {
  it('lists every device a user may see, however many, and counts each relationship once', () => {
    const table = new RelationshipTable();
    const cameras = Array.from({ length: 40 }, (_, i) => `cam-${String(i).padStart(2, '0')}`);
    for (const cam of cameras)
      table.apply(recorded('DeviceRegistered', { ...base(cam, 0), ownerId: 'owner' }));
    for (const cam of cameras) {
      table.apply(recorded('AccessGranted', { ...base(cam, 1), userId: 'guest' }));
      // Granting again keeps one relationship.
      table.apply(recorded('AccessGranted', { ...base(cam, 2), userId: 'guest' }));
    }
    table.apply(recorded('AccessRevoked', { ...base('cam-07', 3), userId: 'guest' }));
    expect(table.relationshipCount).toBe(80);
    const seen = table.userAccess('guest', T0 + 10 * 60_000).map((a) => a.deviceId);
    expect(seen).toEqual(cameras.filter((cam) => cam !== 'cam-07'));
    expect(table.userAccess('guest', T0 + 1.5 * 60_000)).toHaveLength(40);
    expect(table.userAccess('owner', T0 + 10 * 60_000).every((a) => a.role === 'owner')).toBe(true);
    expect(table.userAccess('nobody', T0)).toEqual([]);
  });

  it('answers for a user with one device and for one with a few', () => {
    const table = new RelationshipTable();
    table.apply(recorded('DeviceRegistered', { ...base('cam-a', 0), ownerId: 'alice' }));
    table.apply(recorded('DeviceRegistered', { ...base('cam-b', 0), ownerId: 'bob' }));
    table.apply(recorded('AccessGranted', { ...base('cam-b', 1), userId: 'alice' }));
    table.apply(
      recorded('OwnershipTransferred', {
        ...base('cam-b', 2),
        previousOwnerId: 'bob',
        newOwnerId: 'carol',
        keepViewers: true,
      }),
    );
    const later = T0 + 5 * 60_000;
    expect(table.userAccess('bob', later)).toEqual([]);
    expect(table.userAccess('carol', later).map((a) => [a.deviceId, a.role])).toEqual([['cam-b', 'owner']]);
    expect(table.userAccess('alice', later).map((a) => [a.deviceId, a.role])).toEqual([
      ['cam-a', 'owner'],
      ['cam-b', 'viewer'],
    ]);
    expect(table.relationshipCount).toBe(4);
  });
});

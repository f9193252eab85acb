import { createHash } from 'node:crypto';
import { Streams } from '@ledger/domain';
import type { JsonObject, RecordedEvent } from '@ledger/event-store';
import { RelationshipTable } from './relationship-table.projection';

/**
 * The digest (GET /v1/projection) is over the canonical form of the timelines. These values were recorded
 * from the table as it was before its memory layout changed: any layout must reproduce them exactly.
 */
const T0 = Date.UTC(2024, 1, 16, 9, 0, 0);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function fixedHistory(): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  const push = (type: string, deviceId: string, minutes: number, data: JsonObject) => {
    const position = events.length + 1;
    events.push({
      eventId: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
      stream: Streams.device(deviceId),
      revision: 0n,
      type,
      data: { deviceId, actor: 'svc:test', occurredAt: at(minutes), recordedAt: at(minutes), ...data },
      metadata: {},
      position: { commit: BigInt(position), prepare: BigInt(position) },
    });
  };
  const user = (i: number) => `user-${String(i % 37).padStart(3, '0')}`;
  for (let d = 0; d < 60; d++) {
    const cam = `cam-${String((d * 7) % 60).padStart(2, '0')}`;
    push('DeviceRegistered', cam, d, { ownerId: user(d) });
    push('AccessGranted', cam, d + 1, { userId: user(d + 1) });
    push('AccessGranted', cam, d + 2, { userId: user(d + 2), expiresAt: at(d + 30) });
    if (d % 3 === 0) push('AccessRevoked', cam, d + 3, { userId: user(d + 1) });
    if (d % 4 === 0) push('AccessGranted', cam, d + 4, { userId: user(d + 1) });
    if (d % 5 === 0) push('AccessGranted', cam, d + 5, { userId: user(d + 2) });
    if (d % 6 === 0)
      push('OwnershipTransferred', cam, d + 6, {
        previousOwnerId: user(d),
        newOwnerId: d % 12 === 0 ? user(d + 1) : user(d + 9),
        keepViewers: d % 12 === 0,
      });
    if (d % 7 === 0) push('AccessGranted', cam, d + 7, { userId: user(d + 3) });
    if (d % 10 === 0) push('DeviceDecommissioned', cam, d + 40, {});
  }
  return events;
}

describe('the relationship table digest', () => {
  it('is the value recorded before the compact layout, for a fixed history', () => {
    const table = new RelationshipTable();
    for (const event of fixedHistory()) table.apply(event);
    expect(table.relationshipCount).toBe(RECORDED.relationships);
    expect(table.digest()).toBe(RECORDED.digest);
  });

  it('survives serialize → restore unchanged', () => {
    const table = new RelationshipTable();
    for (const event of fixedHistory()) table.apply(event);
    const restored = new RelationshipTable();
    for (const device of table.serialize()) restored.restore(JSON.parse(JSON.stringify(device)));
    expect(restored.digest()).toBe(RECORDED.digest);
    expect(restored.relationshipCount).toBe(RECORDED.relationships);
  });

  it('refuses a device whose intervals are not whole [start, end, code] triples (a hand-edited snapshot)', () => {
    const table = new RelationshipTable();
    for (const event of fixedHistory()) table.apply(event);
    const [device] = [...table.serialize()];
    const forged = JSON.parse(JSON.stringify(device)) as typeof device;
    (forged.access as Array<[string, Array<number | null>]>).push(['mallory', [forged.registeredAt, null]]);
    expect(() => new RelationshipTable().restore(forged)).toThrow(/mallory.*triples/);
  });

  it('serializes to the snapshot lines it wrote before', () => {
    const table = new RelationshipTable();
    for (const event of fixedHistory()) table.apply(event);
    const lines = [...table.serialize()].map((device) => JSON.stringify(device)).join('\n');
    expect(createHash('sha256').update(lines).digest('hex')).toBe(RECORDED.snapshotLines);
  });
});

const RECORDED = {
  digest: 'sha256:15604eae6c84a6ddc6775cd95d65542d4748fa1f49878fc094677f2027a427b9',
  relationships: 194,
  snapshotLines: 'f43efe1e6a1e9b424d6c9d782b77264053ed3ed7ac2d19aace8f86ce19ace63f',
};

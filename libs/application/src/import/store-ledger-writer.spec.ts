import { Streams, viewShardFor, type Millis } from '@ledger/domain';
import { ConcurrencyError, type AppendRequest, type AppendResult } from '@ledger/event-store';
import { InMemoryEventStore } from '../../../replay/src/testing/in-memory-event-store';
import { eventBytes } from '../append-size';
import { importEventId } from './import-event-id';
import type { OwnershipLine } from './import-line';
import type { NumberedLine } from './ledger-writer';
import { StoreLedgerWriter } from './store-ledger-writer';

const T = (minute: number): Millis => Date.UTC(2024, 1, 16, 9, minute);
const NOW = T(59);
let lineNumber = 0;
const numbered = (input: OwnershipLine): NumberedLine<OwnershipLine> => {
  lineNumber++;
  return { line: lineNumber, eventId: importEventId('writer-spec', lineNumber), input };
};

describe('StoreLedgerWriter', () => {
  it('re-reads and re-decides when the device changed since it was read', async () => {
    // given: the writer has cam-1's history cached
    const store = new InMemoryEventStore();
    const writer = new StoreLedgerWriter(store, { now: () => NOW });
    await writer.applyOwnershipLines([
      numbered({ op: 'register', deviceId: 'cam-1', ownerId: 'alice', actor: 'svc:p', occurredAt: T(0) }),
    ]);
    // and someone else grants bob access through another path
    await store.append({
      stream: Streams.device('cam-1'),
      expectedRevision: 0n,
      events: [
        {
          eventId: '00000000-0000-4000-8000-00000000abcd',
          type: 'AccessGranted',
          data: {
            deviceId: 'cam-1',
            userId: 'bob',
            actor: 'alice',
            occurredAt: new Date(T(1)).toISOString(),
            recordedAt: new Date(T(1)).toISOString(),
          },
        },
      ],
    });

    // when: the import revokes bob
    const outcomes = await writer.applyOwnershipLines([
      numbered({ op: 'revoke', deviceId: 'cam-1', userId: 'bob', actor: 'alice', occurredAt: T(2) }),
    ]);

    // then: decided against the fresh history, so the revoke is valid
    expect(outcomes).toEqual([{ status: 'accepted' }]);
    expect((await store.readStream(Streams.device('cam-1'))).map((e) => e.type)).toEqual([
      'DeviceRegistered',
      'AccessGranted',
      'AccessRevoked',
    ]);
  });

  it('gives up on a device that keeps changing, rejecting its lines as contended', async () => {
    const store = new InMemoryEventStore();
    const contended = Object.create(store) as InMemoryEventStore;
    contended.append = (request: AppendRequest): Promise<AppendResult> =>
      Promise.reject(new ConcurrencyError(request.stream, 'no_stream', '0'));
    const writer = new StoreLedgerWriter(contended, { now: () => NOW, maxRetries: 2 });
    const outcomes = await writer.applyOwnershipLines([
      numbered({ op: 'register', deviceId: 'cam-2', ownerId: 'alice', actor: 'svc:p', occurredAt: T(0) }),
      numbered({ op: 'revoke', deviceId: 'cam-2', userId: 'nobody', actor: 'alice', occurredAt: T(1) }),
    ]);
    expect(outcomes).toEqual([
      { status: 'rejected', message: 'device cam-2 is being changed concurrently; retry' },
      { status: 'rejected', message: 'user nobody has no active access to device cam-2 to revoke' },
    ]);
  });

  it('applies each device’s lines in order while devices go side by side', async () => {
    const store = new InMemoryEventStore();
    const writer = new StoreLedgerWriter(store, { now: () => NOW, maxCachedDevices: 1 });
    const outcomes = await writer.applyOwnershipLines([
      numbered({ op: 'register', deviceId: 'a', ownerId: 'alice', actor: 'svc:p', occurredAt: T(0) }),
      numbered({ op: 'register', deviceId: 'b', ownerId: 'bob', actor: 'svc:p', occurredAt: T(0) }),
      numbered({ op: 'grant', deviceId: 'a', userId: 'carol', actor: 'alice', occurredAt: T(1) }),
      numbered({
        op: 'transfer',
        deviceId: 'b',
        newOwnerId: 'dave',
        keepViewers: false,
        actor: 'bob',
        occurredAt: T(2),
      }),
      numbered({ op: 'revoke', deviceId: 'a', userId: 'carol', actor: 'alice', occurredAt: T(3) }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
    ]);
    // the cache holds one device: the next batch re-reads the other from the store
    const more = await writer.applyOwnershipLines([
      numbered({ op: 'decommission', deviceId: 'a', actor: 'alice', occurredAt: T(4) }),
      numbered({ op: 'decommission', deviceId: 'b', actor: 'dave', occurredAt: T(4) }),
    ]);
    expect(more.map((o) => o.status)).toEqual(['accepted', 'accepted']);
    expect((await store.readStream(Streams.device('a'))).map((e) => e.type)).toEqual([
      'DeviceRegistered',
      'AccessGranted',
      'AccessRevoked',
      'DeviceDecommissioned',
    ]);
  });

  it('splits the views of a batch into appends under the maximum append size', async () => {
    const store = new InMemoryEventStore();
    const sizes: number[] = [];
    const measured = Object.create(store) as InMemoryEventStore;
    measured.appendMany = (requests: readonly AppendRequest[]) => {
      for (const request of requests) sizes.push(request.events.reduce((sum, e) => sum + eventBytes(e), 0));
      return store.appendMany(requests);
    };
    const writer = new StoreLedgerWriter(measured, { now: () => NOW, maxAppendBytes: 4096 });
    const views = Array.from({ length: 300 }, (_, i) => ({
      line: 1000 + i,
      eventId: importEventId('writer-spec-views', i),
      input: {
        op: 'view' as const,
        viewerId: `viewer-${i}`,
        deviceId: 'cam-9',
        mediaId: `media-${i}`,
        mediaType: 'thumbnail' as const,
        action: 'delivered' as const,
        occurredAt: T(1),
      },
    }));
    const outcomes = await writer.appendViews(views);
    expect(outcomes.every((o) => o.status === 'accepted')).toBe(true);
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(4096);
    const stored = await store.readStream(Streams.views(viewShardFor('cam-9')));
    expect(stored.map((e) => e.eventId)).toEqual(views.map((v) => v.eventId));
  });
});

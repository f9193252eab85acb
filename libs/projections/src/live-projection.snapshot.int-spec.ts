import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Streams } from '@ledger/domain';
import type { EventStore } from '@ledger/event-store';
import { SqliteEventStore } from '../../event-store/src/sqlite';
import { IdempotencyIndex } from './idempotency.index';
import { LiveProjection, rebuildFromLog, SNAPSHOT_EVERY_EVENTS_OF_ANY_KIND } from './live-projection';
import { loadSnapshot, SNAPSHOT_FILE } from './projection-snapshot';
import { RelationshipTable } from './relationship-table.projection';
import { occurredAt, registration } from './testing/device-appends';

function grants(deviceId: string, revision: bigint, count: number) {
  return {
    stream: Streams.device(deviceId),
    expectedRevision: revision,
    events: Array.from({ length: count }, (_unused, i) => ({
      eventId: randomUUID(),
      type: 'AccessGranted',
      data: {
        deviceId,
        userId: `viewer-${revision}-${i}`,
        actor: 'svc:test',
        occurredAt,
        recordedAt: occurredAt,
      },
    })),
  };
}

function views(count: number) {
  return {
    stream: Streams.views(1),
    expectedRevision: 'any' as const,
    events: Array.from({ length: count }, (_unused, i) => ({
      eventId: randomUUID(),
      type: 'MediaViewed',
      data: { viewerId: 'viewer', deviceId: 'cam-0', mediaId: `m-${i}`, occurredAt },
    })),
  };
}

describe('LiveProjection snapshots', () => {
  let dataDir: string;
  let snapshotDir: string;
  let store: EventStore;
  let projection: LiveProjection | null = null;

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-live-snapshot-'));
    snapshotDir = path.join(dataDir, 'snapshots');
    store = SqliteEventStore.open({ dataDir });
  });
  afterEach(async () => {
    await projection?.stop();
    projection = null;
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** The position the snapshot on disk was taken at, or null when there is none. */
  function snapshotCommit(): bigint | null {
    const file = path.join(snapshotDir, SNAPSHOT_FILE);
    if (!fs.existsSync(file)) return null;
    const header = JSON.parse(fs.readFileSync(file, 'latin1').split('\n')[0]) as { commit: string };
    return BigInt(header.commit);
  }

  async function settled(live: LiveProjection): Promise<void> {
    await live.catchUpToHead(10_000);
    await live.snapshotInFlight;
  }

  it('counts changes of what the snapshot holds: a views-only stream writes one only after many times as many events', async () => {
    const every = 10;
    await store.append(registration('cam-0'));
    projection = new LiveProjection(store, { snapshotDir, snapshotEveryEvents: every });
    await projection.start();

    // Ten times the count in views: the table and the keys are what they were, nothing to rewrite.
    for (let i = 0; i < 10; i++) await store.append(views(every));
    await settled(projection);
    expect(snapshotCommit()).toBeNull();

    // Ownership changes reach the count: a snapshot.
    await store.append(grants('cam-0', 0n, every));
    await settled(projection);
    const afterChanges = snapshotCommit();
    expect(afterChanges).not.toBeNull();

    // A views-only stream still bounds what a restart replays, at the larger count.
    const bound = every * SNAPSHOT_EVERY_EVENTS_OF_ANY_KIND;
    for (let i = 0; i < bound / every - 1; i++) await store.append(views(every));
    await settled(projection);
    expect(snapshotCommit()).toBe(afterChanges);
    await store.append(views(every));
    await settled(projection);
    expect(snapshotCommit()).toBeGreaterThan(afterChanges as bigint);
  });

  it('stop waits for the snapshot being written, then writes the final state, which a restart loads', async () => {
    await store.append(registration('cam-0'));
    await store.append(registration('cam-1'));
    projection = new LiveProjection(store, { snapshotDir });
    await projection.start();
    const first = projection.snapshot();
    // Applied while the first is being written: only the final snapshot holds them.
    await store.append(grants('cam-0', 0n, 3));
    await store.append(views(5));
    await projection.catchUpToHead(10_000);
    await projection.stop();
    projection = null;
    await first;

    const expected = await rebuildFromLog(store);
    const table = new RelationshipTable();
    const result = loadSnapshot(snapshotDir, store.name, table, new IdempotencyIndex());
    expect(result).toMatchObject({ kind: 'loaded', position: expected.position });
    expect(table.digest()).toBe(expected.digest);

    const logged: string[] = [];
    projection = new LiveProjection(store, {
      snapshotDir,
      logger: { log: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m) },
    });
    await projection.start();
    expect(logged).toEqual([expect.stringMatching(/^projection snapshot loaded at /)]);
    expect({ digest: projection.digest(), token: projection.token }).toEqual({
      digest: expected.digest,
      token: expected.token,
    });
  });
  it('a start that replayed at least the count writes a snapshot once caught up, before any live event or stop', async () => {
    const every = 10;
    await store.append(registration('cam-0'));
    await store.append(grants('cam-0', 0n, every));
    projection = new LiveProjection(store, { snapshotDir, snapshotEveryEvents: every });
    await projection.start();
    await projection.snapshotInFlight;
    // Without it, a kill -9 now would leave no snapshot and the next start would replay all of it again.
    expect(snapshotCommit()).not.toBeNull();
    const table = new RelationshipTable();
    expect(loadSnapshot(snapshotDir, store.name, table, new IdempotencyIndex())).toMatchObject({
      kind: 'loaded',
    });
    expect(table.digest()).toBe(projection.digest());
  });

  it('a start that replayed less than the count writes none until stop', async () => {
    await store.append(registration('cam-0'));
    projection = new LiveProjection(store, { snapshotDir, snapshotEveryEvents: 10 });
    await projection.start();
    await projection.snapshotInFlight;
    expect(snapshotCommit()).toBeNull();
  });

  it('a keyed start over a snapshot it cannot authenticate rewrites it under its key once caught up', async () => {
    const key = randomBytes(32);
    await store.append(registration('cam-0'));
    await store.append(grants('cam-0', 0n, 2));
    // A checksum-only snapshot, as `ledger rebuild` or a keyless service leaves.
    projection = new LiveProjection(store, { snapshotDir });
    await projection.start();
    await projection.stop();
    const unkeyed = loadSnapshot(
      snapshotDir,
      store.name,
      new RelationshipTable(),
      new IdempotencyIndex(),
      key,
    );
    expect(unkeyed).toMatchObject({ kind: 'loaded', authenticated: false });

    const logged: string[] = [];
    projection = new LiveProjection(store, {
      snapshotDir,
      snapshotKey: key,
      logger: { log: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m) },
    });
    await projection.start();
    await projection.snapshotInFlight;
    expect(logged).toEqual([expect.stringMatching(/verified against the device events/)]);
    const table = new RelationshipTable();
    const rewritten = loadSnapshot(snapshotDir, store.name, table, new IdempotencyIndex(), key);
    // The next start loads it as is: no pass over the device events.
    expect(rewritten).toMatchObject({ kind: 'loaded', authenticated: true });
    expect(table.digest()).toBe(projection.digest());
  });
});

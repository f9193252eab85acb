import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Streams, type DeviceEvent } from '@ledger/domain';
import {
  positionToToken,
  START,
  tokenToPosition,
  type AppendRequest,
  type JsonObject,
  type RecordedEvent,
} from '@ledger/event-store';
import { SqliteEventStore } from '../../event-store/src/sqlite';
import {
  historySteps,
  PROBE_USERS,
  probeTimes,
  runHistory,
  T0,
  type RunHistory,
  type Step,
} from '../../../test/support/device-history';
import { LiveProjection, rebuildFromLog } from './live-projection';
import { RelationshipTable } from './relationship-table.projection';

/**
 * The relationship table (the index behind every check) against the reference model of contract §2, on several
 * devices whose random histories are interleaved in one log together with view events it must ignore.
 */

interface Fleet {
  readonly histories: readonly RunHistory[];
  /** The log, in order: device events of every device interleaved, plus views. */
  readonly log: ReadonlyArray<{ readonly stream: string; readonly type: string; readonly data: JsonObject }>;
}

const fleet: fc.Arbitrary<Fleet> = fc
  .record({
    devices: fc.array(historySteps(25), { minLength: 1, maxLength: 3 }),
    schedule: fc.array(fc.nat({ max: 5 }), { maxLength: 120 }),
  })
  .map(({ devices, schedule }) => {
    const histories = devices.map((steps: Step[], i) => runHistory(`cam-${i}`, steps, T0 + i * 3));
    const queues = histories.map((h) => [...h.events]);
    const log: Array<Fleet['log'][number]> = [];
    const push = (event: DeviceEvent) =>
      log.push({
        stream: Streams.device(event.data.deviceId),
        type: event.type,
        data: event.data as unknown as JsonObject,
      });
    for (const choice of schedule) {
      const live = queues.filter((q) => q.length > 0);
      if (live.length === 0) break;
      if (choice === 5) {
        // A view: heavy traffic the relationship table must not be moved by.
        const deviceId = `cam-${log.length % histories.length}`;
        log.push({
          stream: Streams.views(0),
          type: 'MediaViewed',
          data: {
            viewerId: 'mallory',
            deviceId,
            mediaId: `m-${log.length}`,
            mediaType: 'thumbnail',
            action: 'delivered',
            occurredAt: new Date(T0).toISOString(),
            recordedAt: new Date(T0).toISOString(),
          },
        });
      } else push(live[choice % live.length].shift()!);
    }
    for (const queue of queues) queue.forEach(push);
    return { histories, log };
  });

function recorded(log: Fleet['log']): RecordedEvent[] {
  const revisions = new Map<string, bigint>();
  return log.map((entry, index) => {
    const revision = revisions.get(entry.stream) ?? 0n;
    revisions.set(entry.stream, revision + 1n);
    return {
      eventId: randomUUID(),
      stream: entry.stream,
      revision,
      type: entry.type,
      data: entry.data,
      metadata: {},
      position: { commit: BigInt(index), prepare: BigInt(index) },
    };
  });
}

function tableOf(log: Fleet['log']): RelationshipTable {
  const table = new RelationshipTable();
  for (const event of recorded(log)) table.apply(event);
  return table;
}

/** expect() is slow in tight loops: compare first, and let expect() print the diff only on a mismatch. */
function same(label: unknown[], actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect([...label, actual]).toEqual([...label, expected]);
}

const plain = <T extends { since: number; expiresAt: number | null }>(access: readonly T[]) =>
  access.map((a) => ({ ...a }));

/** Every question the table answers, asked at every probed instant, compared with the reference. */
function expectAgreesWithReference(table: RelationshipTable, { histories }: Fleet, everyNth = 1): void {
  const times = [...new Set(histories.flatMap((h) => probeTimes(h)))]
    .sort((a, b) => a - b)
    .filter((_t, i) => i % everyNth === 0);
  for (const t of times) {
    for (const h of histories) {
      const registered = h.reference.registeredAt !== null;
      const listed = table.deviceAccess(h.deviceId, t);
      same([h.deviceId, t - T0], listed && plain(listed), registered ? h.reference.accessAt(t) : undefined);
      for (const userId of PROBE_USERS) {
        same(
          [h.deviceId, userId, t - T0],
          { ...table.check(userId, h.deviceId, t) },
          h.reference.judge(userId, t),
        );
      }
    }
    for (const userId of PROBE_USERS) {
      const expected = histories
        .map((h) => {
          const access = h.reference.userAccessAt(userId, t);
          return access && { ...access, deviceId: h.deviceId };
        })
        .filter((a) => a !== null)
        .sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
      same([userId, t - T0], plain(table.userAccess(userId, t)), expected);
    }
    same(
      ['cam-never-registered', t - T0],
      { ...table.check('alice', 'cam-never-registered', t) },
      {
        allowed: false,
        reason: 'unknown_device',
      },
    );
  }
  expect(table.deviceAccess('cam-never-registered', T0)).toBeUndefined();
}

describe('RelationshipTable (property: agrees with the reference model of §2)', () => {
  it('answers check, deviceAccess and userAccess like the reference, on interleaved multi-device logs', () => {
    fc.assert(
      fc.property(fleet, (f) => {
        expectAgreesWithReference(tableOf(f.log), f);
      }),
      { numRuns: 100 },
    );
  });

  it('restoring its serialized form (the snapshot body) gives the same digest and the same answers', () => {
    fc.assert(
      fc.property(fleet, (f) => {
        const table = tableOf(f.log);
        const restored = new RelationshipTable();
        // Through JSON, as the snapshot file stores it.
        for (const device of table.serialize()) restored.restore(JSON.parse(JSON.stringify(device)));
        expect(restored.digest()).toBe(table.digest());
        expect(restored.deviceCount).toBe(table.deviceCount);
        expectAgreesWithReference(restored, f, 3);
      }),
      { numRuns: 60 },
    );
  });

  it('has a digest that depends only on the device histories, not on how devices interleave or on views', () => {
    fc.assert(
      fc.property(fleet, (f) => {
        const deviceOnly = f.log.filter((e) => e.type !== 'MediaViewed');
        const byDevice = [...deviceOnly].sort((a, b) =>
          a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0,
        );
        expect(tableOf(byDevice).digest()).toBe(tableOf(f.log).digest());
      }),
      { numRuns: 60 },
    );
  });
});

describe('LiveProjection over a real store (property)', () => {
  let dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    dirs = [];
  });

  it('follows a log written through SqliteEventStore: live digest = rebuildFromLog digest, answers = reference, also after a snapshot restart', async () => {
    await fc.assert(
      fc.asyncProperty(fleet, fc.nat(), async (f, cut) => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-prop-'));
        dirs.push(dataDir);
        const snapshotDir = path.join(dataDir, 'snapshots');
        const store = SqliteEventStore.open({ dataDir });
        const revisions = new Map<string, bigint>();
        const append = (entries: Fleet['log']) =>
          Promise.all(
            entries.map((entry) => {
              const previous = revisions.get(entry.stream);
              revisions.set(entry.stream, (previous ?? -1n) + 1n);
              const request: AppendRequest = {
                stream: entry.stream,
                // Device streams append with their exact revision, as the command handlers do.
                expectedRevision: entry.stream.startsWith('views-') ? 'any' : (previous ?? 'no_stream'),
                events: [{ eventId: randomUUID(), type: entry.type, data: entry.data }],
              };
              return store.append(request);
            }),
          );
        // Views first, so every run's log is long enough to hand out positions like 28 (`s` in base 36).
        const views = Array.from({ length: 30 }, (_unused, i) => ({
          stream: Streams.views(1),
          type: 'MediaViewed',
          data: {
            viewerId: 'mallory',
            deviceId: 'cam-0',
            mediaId: `pad-${i}`,
            occurredAt: new Date(T0).toISOString(),
          },
        }));
        await append(views);
        const split = f.log.length === 0 ? 0 : cut % (f.log.length + 1);
        let live: LiveProjection | null = null;
        let again: LiveProjection | null = null;
        try {
          // Part of the log exists before the projection starts (catch-up), the rest arrives live.
          await append(f.log.slice(0, split));
          live = new LiveProjection(store, { snapshotDir, snapshotEveryEvents: 5 });
          await live.start();
          await append(f.log.slice(split));
          await live.catchUpToHead(5000);

          // Every position the store hands out reads back from its token as itself (never as START).
          const stored = await store.readAll({ from: START, direction: 'forwards', maxCount: 10_000 });
          for (const event of stored.events) {
            same(
              ['token of', event.position],
              tokenToPosition(positionToToken(event.position)),
              event.position,
            );
          }

          const rebuilt = await rebuildFromLog(store, { pageSize: 7 });
          expect(rebuilt.events).toBe(views.length + f.log.length);
          expect(live.digest()).toBe(rebuilt.digest);
          expect(live.token).toBe(positionToToken(await store.headPosition()));
          expect(live.digest()).toBe(tableOf(f.log).digest());
          expectAgreesWithReference(live.table, f, 2);

          await live.stop();
          live = null;
          if (f.log.length > 0)
            expect(fs.existsSync(path.join(snapshotDir, 'relationships.snapshot'))).toBe(true);
          again = new LiveProjection(store, { snapshotDir });
          await again.start();
          expect(again.digest()).toBe(rebuilt.digest);
          expect(again.token).toBe(rebuilt.token);
          expectAgreesWithReference(again.table, f, 5);
        } finally {
          await live?.stop();
          await again?.stop();
          await store.close();
        }
      }),
      { numRuns: 20 },
    );
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Streams } from '@ledger/domain';
import type { RecordedEvent } from '@ledger/event-store';
import { replayIncident } from '@ledger/replay';
import { InMemoryEventStore } from '../../../replay/src/testing/in-memory-event-store';
import { importEventId } from './import-event-id';
import { ImportFileError, importNdjsonFile, type ImportOptions } from './import-ndjson';
import { ACCEPTED, type LedgerWriter } from './ledger-writer';
import { StoreLedgerWriter } from './store-ledger-writer';

const NOW = Date.UTC(2024, 1, 16, 12, 0, 0);
const at = (minute: number): string => new Date(Date.UTC(2024, 1, 16, 9, minute)).toISOString();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: ReadonlyArray<Record<string, unknown> | string>, eol = '\n'): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join(eol) + eol);
  return path;
}

interface Run {
  summary: Awaited<ReturnType<typeof importNdjsonFile>>;
  rejections: Array<[number, string]>;
}

async function run(
  store: InMemoryEventStore,
  path: string,
  options: Partial<ImportOptions> = {},
): Promise<Run> {
  const rejections: Array<[number, string]> = [];
  const summary = await importNdjsonFile(path, {
    writer: new StoreLedgerWriter(store, { now: () => NOW }),
    now: () => NOW,
    onRejected: (line, message) => rejections.push([line, message]),
    ...options,
  });
  rejections.sort((a, b) => a[0] - b[0]);
  return { summary, rejections };
}

const register = (deviceId: string, ownerId: string, minute: number) => ({
  op: 'register',
  deviceId,
  ownerId,
  actor: 'svc:p',
  occurredAt: at(minute),
});
const grant = (deviceId: string, userId: string, minute: number) => ({
  op: 'grant',
  deviceId,
  userId,
  actor: 'alice',
  occurredAt: at(minute),
});
const revoke = (deviceId: string, userId: string, minute: number) => ({
  op: 'revoke',
  deviceId,
  userId,
  actor: 'alice',
  occurredAt: at(minute),
});
const view = (viewerId: string, deviceId: string, minute: number, action = 'delivered') => ({
  op: 'view',
  viewerId,
  deviceId,
  mediaId: `m-${minute}`,
  mediaType: 'thumbnail',
  action,
  occurredAt: at(minute),
});

/** A fleet file: 20 cameras, shares and revocations, 300 views (some unauthorized). */
function fleetLines(): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (let d = 0; d < 20; d++) {
    lines.push(register(`cam-${d}`, `owner-${d}`, 0));
    lines.push(grant(`cam-${d}`, `friend-${d}`, 1));
    if (d % 4 === 0) lines.push(revoke(`cam-${d}`, `friend-${d}`, 30));
  }
  for (let k = 0; k < 300; k++) {
    const d = k % 20;
    const who = k % 3 === 0 ? `owner-${d}` : k % 3 === 1 ? `friend-${d}` : `stranger-${k}`;
    lines.push(view(who, `cam-${d}`, 2 + (k % 50)));
  }
  // interleave some ownership lines after views, as a real export would
  lines.push(grant('cam-1', 'late-friend', 55), view('late-friend', 'cam-1', 56));
  return lines;
}

const ids = (events: readonly RecordedEvent[]): string[] => events.map((e) => e.eventId);

describe('importNdjsonFile', () => {
  it('imports every kind of line and reports each rejected line by number', async () => {
    // given
    const path = file('mixed.ndjson', [
      register('cam-1', 'alice', 0), // 1
      grant('cam-1', 'bob', 1), // 2
      view('bob', 'cam-1', 2), // 3
      '{"op": "view", "viewerId": ', // 4: malformed
      '', // 5: blank
      { ...grant('cam-1', 'carol', 3), colour: 'red' }, // 6: unknown field
      revoke('cam-1', 'dave', 4), // 7: 409 no active access
      grant('cam-1', 'alice', 5), // 8: 409 owner
      register('cam-1', 'erin', 6), // 9: 409 already registered
      grant('cam-9', 'bob', 6), // 10: 404 unknown device
      grant('cam-1', 'carol', 0), // 11: 409 dated before the previous change
      { ...grant('cam-1', 'frank', 7), expiresAt: at(6) }, // 12: expiry before the grant
      { op: 'decommission', deviceId: 'cam-1', actor: 'alice', occurredAt: at(8) }, // 13
      grant('cam-1', 'gina', 9), // 14: 409 decommissioned
      { ...view('bob', 'cam-1', 10), mediaType: 'gif' }, // 15: enum
      view('mallory', 'cam-1', 11, 'played'), // 16
    ]);
    const store = new InMemoryEventStore();

    // when
    const { summary, rejections } = await run(store, path, { ownershipBatchSize: 3 });

    // then
    expect(rejections.map(([n]) => n)).toEqual([4, 6, 7, 8, 9, 10, 11, 12, 14, 15]);
    const message = new Map(rejections);
    expect(message.get(4)).toMatch(/^JSON is malformed/);
    expect(message.get(6)).toBe('colour is not allowed for op grant');
    expect(message.get(7)).toBe('user dave has no active access to device cam-1 to revoke');
    expect(message.get(8)).toMatch(/user alice owns device cam-1/);
    expect(message.get(9)).toBe('device cam-1 is already registered');
    expect(message.get(10)).toBe('device cam-9 is not registered');
    expect(message.get(11)).toMatch(/before the device's previous ownership change/);
    expect(message.get(12)).toBe('expiresAt must be later than occurredAt');
    expect(message.get(14)).toMatch(/decommissioned/);
    expect(message.get(15)).toMatch(/^mediaType must be one of/);
    expect(summary).toMatchObject({ lines: 16, blank: 1, accepted: 5, rejected: 10, skipped: 0 });
    const device = await store.readStream(Streams.device('cam-1'));
    expect(device.map((e) => e.type)).toEqual(['DeviceRegistered', 'AccessGranted', 'DeviceDecommissioned']);
    expect(ids(device)).toEqual([1, 2, 13].map((n) => importEventId(summary.importId, n)));
    const views = store.log.filter((e) => e.type === 'MediaViewed');
    expect(views.map((e) => [e.eventId, e.data.viewerId, e.data.occurredAt, e.data.recordedAt])).toEqual([
      [importEventId(summary.importId, 3), 'bob', at(2), new Date(NOW).toISOString()],
      [importEventId(summary.importId, 16), 'mallory', at(11), new Date(NOW).toISOString()],
    ]);
    expect(views[0].stream).toMatch(/^views-\d+$/);
  });

  it('dates an ownership change without occurredAt at receipt', async () => {
    const path = file('receipt.ndjson', [
      { op: 'register', deviceId: 'cam-1', ownerId: 'alice', actor: 'svc:p' },
    ]);
    const store = new InMemoryEventStore();
    await run(store, path);
    expect(store.log[0].data).toMatchObject({
      occurredAt: new Date(NOW).toISOString(),
      recordedAt: new Date(NOW).toISOString(),
    });
  });

  it('accepts CRLF line ends, a byte-order mark and a last line without a newline', async () => {
    const path = join(dir, 'crlf.ndjson');
    writeFileSync(
      path,
      `\ufeff${JSON.stringify(register('cam-1', 'alice', 0))}\r\n\r\n${JSON.stringify(view('alice', 'cam-1', 1))}`,
    );
    const store = new InMemoryEventStore();
    const { summary, rejections } = await run(store, path);
    expect(rejections).toEqual([]);
    expect(summary).toMatchObject({ lines: 3, blank: 1, accepted: 2 });
  });

  it('imports nothing twice when run again', async () => {
    const path = file('fleet.ndjson', fleetLines());
    const store = new InMemoryEventStore();
    const first = await run(store, path, { viewBatchSize: 64, ownershipBatchSize: 16 });
    expect(first.rejections).toEqual([]);
    const stored = ids(store.log);

    const second = await run(store, path, { viewBatchSize: 64, ownershipBatchSize: 16 });

    expect(second.summary).toMatchObject({ accepted: 0, rejected: 0, skipped: first.summary.accepted });
    expect(ids(store.log)).toEqual(stored);
  });

  it('after an interruption, a rerun adds what is missing and loses nothing', async () => {
    const path = file('interrupted.ndjson', fleetLines());
    const reference = new InMemoryEventStore();
    const clean = await run(reference, path);

    // given: the first run dies after a few batches
    const store = new InMemoryEventStore();
    const real = new StoreLedgerWriter(store, { now: () => NOW });
    let viewBatches = 0;
    const crashing: LedgerWriter = {
      applyOwnershipLines: (batch) => real.applyOwnershipLines(batch),
      appendViews: (batch) =>
        ++viewBatches > 3 ? Promise.reject(new Error('killed')) : real.appendViews(batch),
    };
    await expect(
      run(store, path, { writer: crashing, viewBatchSize: 40, ownershipBatchSize: 10 }),
    ).rejects.toThrow('killed');
    const partial = store.log.length;
    expect(store.log.filter((e) => e.type === 'MediaViewed')).toHaveLength(120);
    expect(partial).toBeLessThan(reference.log.length);

    // when: run again, batched differently
    const rerun = await run(store, path, { viewBatchSize: 33, ownershipBatchSize: 7 });

    // then
    expect(rerun.rejections).toEqual([]);
    expect(rerun.summary.skipped).toBe(partial);
    expect(rerun.summary.accepted).toBe(reference.log.length - partial);
    expect(new Set(ids(store.log))).toEqual(new Set(ids(reference.log)));
    expect(store.log).toHaveLength(reference.log.length);
    const replayed = await replayIncident(store, {});
    const expected = await replayIncident(reference, {});
    // Same exposures; ties in occurredAt may be ordered differently, as the log order differs.
    expect(replayed.summary).toEqual(expected.summary);
    const byId = (a: { eventId: string }, b: { eventId: string }) => (a.eventId < b.eventId ? -1 : 1);
    expect([...replayed.exposures].sort(byId)).toEqual([...expected.exposures].sort(byId));
    expect(clean.summary.accepted).toBe(reference.log.length);
  });

  it('reads and checks the next lines while a batch of views is being appended, one batch at a time', async () => {
    const path = file('overlap.ndjson', [
      view('bob', 'cam-1', 1),
      view('bob', 'cam-1', 2),
      '{"op": "view", broken',
      view('bob', 'cam-1', 3),
      view('bob', 'cam-1', 4),
      view('bob', 'cam-1', 5),
    ]);
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    const batches: number[][] = [];
    const writer: LedgerWriter = {
      applyOwnershipLines: (batch) => Promise.resolve(batch.map(() => ACCEPTED)),
      appendViews: async (batch) => {
        batches.push(batch.map((item) => item.line));
        if (batches.length === 1) {
          firstStarted();
          await firstHeld;
        }
        return batch.map(() => ACCEPTED);
      },
    };
    const rejectedLines: number[] = [];
    const running = importNdjsonFile(path, {
      writer,
      now: () => NOW,
      viewBatchSize: 2,
      onRejected: (line) => rejectedLines.push(line),
    });
    await started;
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    // The first batch is still being appended: the line after it was read and refused meanwhile, and the
    // second batch waits for the first instead of piling up behind it.
    expect(rejectedLines).toEqual([3]);
    expect(batches).toEqual([[1, 2]]);
    releaseFirst();
    expect(await running).toMatchObject({ accepted: 5, rejected: 1 });
    expect(batches).toEqual([[1, 2], [4, 5], [6]]);
  });

  it('derives ids from the caller’s import id when given', async () => {
    const path = file('named.ndjson', [register('cam-1', 'alice', 0)]);
    const store = new InMemoryEventStore();
    const { summary } = await run(store, path, { importId: 'batch-2024-02-16' });
    expect(summary.importId).toBe('batch-2024-02-16');
    expect(store.log[0].eventId).toBe(importEventId('batch-2024-02-16', 1));
    await expect(run(store, path, { importId: 'bad id' })).rejects.toMatchObject({ field: 'importId' });
  });

  it('reports progress up to the whole file', async () => {
    const path = file('progress.ndjson', fleetLines());
    const progress: Array<[number, number]> = [];
    await run(new InMemoryEventStore(), path, {
      onProgress: (p) => progress.push([p.bytesRead, p.totalBytes]),
    });
    const [read, total] = progress[progress.length - 1];
    expect(read).toBe(total);
    expect(total).toBeGreaterThan(0);
  });

  it('fails with ImportFileError on a file it cannot read', async () => {
    await expect(run(new InMemoryEventStore(), join(dir, 'missing.ndjson'))).rejects.toBeInstanceOf(
      ImportFileError,
    );
    await expect(run(new InMemoryEventStore(), dir)).rejects.toBeInstanceOf(ImportFileError);
  });
});

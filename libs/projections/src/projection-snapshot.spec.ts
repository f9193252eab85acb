import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Streams } from '@ledger/domain';
import type { JsonObject, RecordedEvent } from '@ledger/event-store';
import { snapshotTestHistory, SNAPSHOT_HISTORY_T0 } from '../../../test/support/snapshot-history';
import { IdempotencyIndex, IDEMPOTENCY_METADATA_KEY } from './idempotency.index';
import {
  captureProjection,
  deriveSnapshotKey,
  loadSnapshot,
  SNAPSHOT_FILE,
  SNAPSHOT_FORMAT,
  writeCapturedSnapshot,
  writeSnapshot,
} from './projection-snapshot';
import { RelationshipTable } from './relationship-table.projection';

/** Idempotency keys of the test history are recorded in its first hour; this clock keeps them in the window. */
const now = () => SNAPSHOT_HISTORY_T0 + 3_600_000;
const FIXTURE_FORMAT_1 = path.join(__dirname, 'fixtures', 'format-1.snapshot');

function built(events = snapshotTestHistory()): { table: RelationshipTable; idempotency: IdempotencyIndex } {
  const table = new RelationshipTable();
  const idempotency = new IdempotencyIndex({ now });
  for (const event of events) {
    table.apply(event);
    if (event.metadata.idempotency !== undefined) idempotency.apply(event);
  }
  return { table, idempotency };
}

/** A fleet big enough for many blocks: every device owned, shared with three, device 0 with a hundred. */
function fleet(devices: number): RelationshipTable {
  const table = new RelationshipTable();
  let position = 0;
  const apply = (type: string, deviceId: string, data: JsonObject): void => {
    position++;
    table.apply(event(type, deviceId, data, position));
  };
  for (let d = 0; d < devices; d++) {
    apply('DeviceRegistered', `cam-${d}`, { ownerId: `owner-${d}` });
    for (let v = 0; v < (d === 0 ? 100 : 3); v++)
      apply('AccessGranted', `cam-${d}`, { userId: `viewer-${d}-${v}` });
  }
  return table;
}

function event(
  type: string,
  deviceId: string,
  data: JsonObject,
  position: number,
  metadata: JsonObject = {},
) {
  const at = new Date(SNAPSHOT_HISTORY_T0 + position * 1000).toISOString();
  return {
    eventId: `e-${position}`,
    stream: Streams.device(deviceId),
    revision: 0n,
    type,
    data: { deviceId, actor: 'svc:test', occurredAt: at, recordedAt: at, ...data },
    metadata,
    position: { commit: BigInt(position), prepare: BigInt(position) },
  } as RecordedEvent;
}

/** Calls `onTurn` on every turn of the event loop until the returned stop function is called. */
function everyTurn(onTurn: () => void): () => void {
  let running = true;
  const turn = () => {
    if (!running) return;
    onTurn();
    setImmediate(turn);
  };
  setImmediate(turn);
  return () => {
    running = false;
  };
}

describe('projection snapshot file', () => {
  const position = { commit: 120n, prepare: 120n };
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-snapshot-unit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const load = (key: Buffer | null, chunkBytes?: number) => {
    const table = new RelationshipTable();
    const idempotency = new IdempotencyIndex({ now });
    const result = loadSnapshot(dir, 'sqlite', table, idempotency, key, { chunkBytes });
    return { table, idempotency, result };
  };

  it('reads back the table exactly as written (ids, keys, every span) and the unexpired Idempotency-Keys', async () => {
    const original = built();
    await writeSnapshot(dir, 'sqlite', position, original.table, original.idempotency);
    const header = JSON.parse(fs.readFileSync(path.join(dir, SNAPSHOT_FILE), 'latin1').split('\n')[0]);
    expect(header).toMatchObject({ format: SNAPSHOT_FORMAT, devices: 40, idempotencyKeys: 10 });
    const { table, idempotency, result } = load(null);
    expect(result).toMatchObject({ kind: 'loaded', position, authenticated: false });
    expect(table.digest()).toBe(original.table.digest());
    expect([...table.serialize()]).toEqual([...original.table.serialize()]);
    expect(table.relationshipCount).toBe(original.table.relationshipCount);
    for (let d = 0; d < 40; d++) {
      const cam = `kamera-ü-${d}-📷`;
      expect(table.timeline(cam)).toEqual(original.table.timeline(cam));
      expect(table.userAccess(`benutzer-ß-${d}`, now())).toEqual(
        original.table.userAccess(`benutzer-ß-${d}`, now()),
      );
      expect(idempotency.get(`svc:reg-${d}-ß`)).toEqual(original.idempotency.get(`svc:reg-${d}-ß`));
    }
    expect(idempotency.size).toBe(10);
  });

  it('a loaded table goes on from the snapshot exactly as the original does, and snapshots again', async () => {
    const original = fleet(3000);
    await writeSnapshot(dir, 'sqlite', position, original, new IdempotencyIndex());
    const { table } = load(null);
    let at = 100_000;
    for (const t of [original, table]) {
      at = 100_000;
      for (let d = 0; d < 3000; d += 7) {
        t.apply(event('AccessRevoked', `cam-${d}`, { userId: `viewer-${d}-1` }, ++at));
        t.apply(event('AccessGranted', `cam-${d}`, { userId: `viewer-${d + 1}-0` }, ++at));
        if (d % 5 === 0) {
          t.apply(
            event(
              'OwnershipTransferred',
              `cam-${d}`,
              { previousOwnerId: `owner-${d}`, newOwnerId: 'new-owner', keepViewers: d % 2 === 0 },
              ++at,
            ),
          );
        }
        if (d % 11 === 0) t.apply(event('DeviceDecommissioned', `cam-${d}`, {}, ++at));
      }
      t.apply(event('DeviceRegistered', 'cam-new', { ownerId: 'owner-new' }, ++at));
    }
    expect(table.digest()).toBe(original.digest());
    expect(table.userAccess('new-owner', SNAPSHOT_HISTORY_T0 + at * 1000)).toEqual(
      original.userAccess('new-owner', SNAPSHOT_HISTORY_T0 + at * 1000),
    );
    expect(table.check('viewer-8-0', 'cam-7', SNAPSHOT_HISTORY_T0 + at * 1000)).toEqual({
      allowed: true,
      role: 'viewer',
    });
    // Part of it changed (arrays of their own), the rest still the snapshot's doubles: written and read again.
    await writeSnapshot(dir, 'sqlite', position, table, new IdempotencyIndex());
    expect(load(null).table.digest()).toBe(original.digest());
  });

  it.each([1, 2, 3, 7, 64, 4096, undefined])(
    'loads a snapshot of the JSON-lines format (written by an older version) to the same digest, read %p bytes at a time',
    (chunkBytes) => {
      fs.copyFileSync(FIXTURE_FORMAT_1, path.join(dir, SNAPSHOT_FILE));
      const original = built();
      const { table, idempotency, result } = load(null, chunkBytes);
      expect(result).toMatchObject({
        kind: 'loaded',
        position: { commit: 112n, prepare: 112n },
        header: { format: 'ledger-projection-snapshot/1' },
      });
      expect(table.digest()).toBe(original.table.digest());
      expect(idempotency.size).toBe(10);
      expect(idempotency.get('svc:reg-8-ß')).toEqual(original.idempotency.get('svc:reg-8-ß'));
    },
  );

  it('authenticates a keyed snapshot, refuses it under another key and without one', async () => {
    const original = built();
    await writeSnapshot(
      dir,
      'sqlite',
      position,
      original.table,
      original.idempotency,
      null,
      deriveSnapshotKey('a'),
    );
    const loaded = load(deriveSnapshotKey('a'));
    expect(loaded.result).toMatchObject({ kind: 'loaded', authenticated: true });
    expect(loaded.table.digest()).toBe(original.table.digest());
    expect(load(deriveSnapshotKey('b')).result).toEqual({
      kind: 'discarded',
      why: 'torn, edited or forged: authentication failed',
    });
    expect(load(null).result).toEqual({
      kind: 'discarded',
      why: 'authenticated with a key this service was not given',
    });
  });

  it('discards a torn file, an edited one and ones whose trailer vouches for bytes no writer produces', async () => {
    const file = await writeSnapshot(dir, 'sqlite', position, fleet(3000), new IdempotencyIndex());
    const whole = fs.readFileSync(file);
    const bodyEnd = whole.lastIndexOf('\n#') + 1;
    const rechecksummed = (body: Buffer) =>
      Buffer.concat([body, Buffer.from(`#${createHash('sha256').update(body).digest('hex')}\n`)]);

    fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    expect(load(null).result).toEqual({ kind: 'discarded', why: 'torn: no checksum line' });

    // One double of a timeline changed: the file still reads, but not to what was written.
    const edited = Buffer.from(whole);
    edited[Math.floor(bodyEnd * 0.8)] ^= 1;
    fs.writeFileSync(file, edited);
    expect(load(null).result).toEqual({ kind: 'discarded', why: 'torn or edited: checksum mismatch' });

    // Whole by a recomputed checksum, unreadable by content: a header count that the blocks do not match …
    const header = whole.subarray(0, whole.indexOf('\n'));
    const miscounted = Buffer.from(header.toString('utf8').replace('"devices":3000', '"devices":3001'));
    fs.writeFileSync(
      file,
      rechecksummed(Buffer.concat([miscounted, whole.subarray(header.length, bodyEnd)])),
    );
    expect(load(null).result).toEqual({
      kind: 'discarded',
      why: expect.stringMatching(/^unreadable content: .*the header says \d+ users and 3001 devices/),
    });
    // … and a body cut inside a block, followed by the newline the trailer needs.
    const cut = Buffer.concat([whole.subarray(0, Math.floor(bodyEnd / 2)), Buffer.from('\n')]);
    fs.writeFileSync(file, rechecksummed(cut));
    expect(load(null).result).toEqual({
      kind: 'discarded',
      why: 'unreadable content: the blocks run past the end of the body',
    });
  });

  it('gives the event loop turns while a large snapshot is written', async () => {
    const table = fleet(20_000);
    let turns = 0;
    const stop = everyTurn(() => turns++);
    try {
      const writing = writeSnapshot(dir, 'sqlite', position, table, new IdempotencyIndex());
      const turnsBefore = turns;
      await writing;
      // Several MB of blocks: the loop ran between them, not only once after the whole file.
      expect(turns - turnsBefore).toBeGreaterThan(3);
    } finally {
      stop();
    }
  });

  it('writes the state at the capture: events applied while it is written are not in it', async () => {
    const table = fleet(20_000);
    const idempotency = new IdempotencyIndex({ now });
    const capturedDigest = table.digest();
    const capture = captureProjection(position, table, idempotency, null);
    let position2 = 1_000_000;
    let appliedDuring = 0;
    const stop = everyTurn(() => {
      // Long timelines change in place (cam-0 holds a hundred spans), short ones get a new array but have
      // their header changed first; a new device and a new key come after the capture too.
      const d = appliedDuring % 20_000;
      table.apply(event('AccessRevoked', `cam-${d}`, { userId: `viewer-${d}-0` }, ++position2));
      table.apply(event('AccessGranted', 'cam-0', { userId: `late-${appliedDuring}` }, ++position2));
      table.apply(event('DeviceRegistered', `late-cam-${appliedDuring}`, { ownerId: 'late' }, ++position2));
      idempotency.apply(
        event('AccessGranted', 'cam-1', { userId: 'x' }, ++position2, {
          [IDEMPOTENCY_METADATA_KEY]: {
            scope: `svc:late-${appliedDuring}`,
            requestHash: 'h',
            status: 201,
            body: {},
          },
        }),
      );
      appliedDuring++;
    });
    try {
      await writeCapturedSnapshot(dir, 'sqlite', capture);
    } finally {
      stop();
      capture.release();
    }
    expect(appliedDuring).toBeGreaterThan(3);
    expect(table.digest()).not.toBe(capturedDigest);
    const loaded = load(null);
    expect(loaded.result).toMatchObject({ kind: 'loaded', position });
    expect(loaded.table.digest()).toBe(capturedDigest);
    expect(loaded.table.deviceCount).toBe(20_000);
    expect(loaded.idempotency.size).toBe(0);
  });

  it('is absent when there is no file', () => {
    expect(fs.existsSync(path.join(dir, SNAPSHOT_FILE))).toBe(false);
    expect(load(null).result).toEqual({ kind: 'absent' });
  });
});

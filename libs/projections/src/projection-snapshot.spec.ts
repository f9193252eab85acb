import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Streams } from '@ledger/domain';
import type { JsonObject, RecordedEvent } from '@ledger/event-store';
import { IdempotencyIndex } from './idempotency.index';
import { deriveSnapshotKey, loadSnapshot, SNAPSHOT_FILE, writeSnapshot } from './projection-snapshot';
import { RelationshipTable } from './relationship-table.projection';

const T0 = Date.UTC(2024, 1, 16, 9, 0, 0);
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

/** Devices and users with multi-byte names, so a read step can end inside a UTF-8 character. */
function history(): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  const push = (type: string, deviceId: string, minutes: number, data: JsonObject): void => {
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
  for (let d = 0; d < 40; d++) {
    const cam = `kamera-ü-${d}-📷`;
    push('DeviceRegistered', cam, d, { ownerId: `benutzer-ß-${d}` });
    push('AccessGranted', cam, d + 1, { userId: `zuschauer-é-${d % 7}` });
    if (d % 3 === 0) push('AccessRevoked', cam, d + 2, { userId: `zuschauer-é-${d % 7}` });
  }
  return events;
}

function built(): RelationshipTable {
  const table = new RelationshipTable();
  for (const event of history()) table.apply(event);
  return table;
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
    const result = loadSnapshot(dir, 'sqlite', table, new IdempotencyIndex(), key, { chunkBytes });
    return { table, result };
  };

  it.each([1, 2, 3, 7, 64, 4096, undefined])(
    'reads back exactly what was written when read %p bytes at a time',
    (chunkBytes) => {
      const original = built();
      writeSnapshot(dir, 'sqlite', position, original, new IdempotencyIndex());
      const { table, result } = load(null, chunkBytes);
      expect(result).toMatchObject({ kind: 'loaded', position, authenticated: false });
      expect(table.deviceCount).toBe(original.deviceCount);
      expect(table.digest()).toBe(original.digest());
    },
  );

  it('authenticates a keyed snapshot, refuses it under another key and without one', () => {
    const original = built();
    writeSnapshot(dir, 'sqlite', position, original, new IdempotencyIndex(), null, deriveSnapshotKey('a'));
    const loaded = load(deriveSnapshotKey('a'), 5);
    expect(loaded.result).toMatchObject({ kind: 'loaded', authenticated: true });
    expect(loaded.table.digest()).toBe(original.digest());
    expect(load(deriveSnapshotKey('b'), 5).result).toEqual({
      kind: 'discarded',
      why: 'torn, edited or forged: authentication failed',
    });
    expect(load(null).result).toEqual({
      kind: 'discarded',
      why: 'authenticated with a key this service was not given',
    });
  });

  it('discards a torn file, an edited one and one whose trailer vouches for lines no writer produces', () => {
    const file = writeSnapshot(dir, 'sqlite', position, built(), new IdempotencyIndex());
    const whole = fs.readFileSync(file);

    fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    expect(load(null, 3).result).toEqual({ kind: 'discarded', why: 'torn: no checksum line' });

    const edited = Buffer.from(whole);
    edited[whole.indexOf('benutzer') + 1] ^= 1;
    fs.writeFileSync(file, edited);
    expect(load(null, 3).result).toEqual({ kind: 'discarded', why: 'torn or edited: checksum mismatch' });

    // A line cut in half with the checksum recomputed: whole by its trailer, unreadable by its content.
    const lines = whole.toString('utf8').split('\n');
    const body = [lines[0], lines[1].slice(0, 10), ...lines.slice(2, -2)].join('\n') + '\n';
    const checksum = createHash('sha256').update(body).digest('hex');
    fs.writeFileSync(file, `${body}#${checksum}\n`);
    const { result } = load(null, 3);
    expect(result.kind).toBe('discarded');
    expect(result.kind === 'discarded' && result.why).toMatch(/^unreadable content: /);
  });

  it('is absent when there is no file', () => {
    expect(fs.existsSync(path.join(dir, SNAPSHOT_FILE))).toBe(false);
    expect(load(null).result).toEqual({ kind: 'absent' });
  });
});

import { createHash, createHmac, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Streams } from '@ledger/domain';
import { openEventStore, type EventStore } from '@ledger/event-store';
import {
  deriveSnapshotKey,
  IdempotencyIndex,
  LiveProjection,
  loadSnapshot,
  rebuildFromLog,
  RelationshipTable,
  SNAPSHOT_FILE,
  writeSnapshot,
  type SnapshotHeader,
} from '@ledger/projections';
import { SqliteEventStore } from '../../../libs/event-store/src/sqlite';
import {
  spawnLedger,
  TEST_API_KEY,
  TEST_API_KEYS,
  type LedgerChild,
} from '../../../test/support/ledger-child';
import { startLedger, tempDataDir } from '../../../test/support/ledger-test-app';
import { seededRandom } from '../../../test/support/seeded-random';

/**
 * The projection snapshot is only a shortcut: whatever happens to it — torn, edited, left behind by a log that
 * was replaced, or cut short by kill -9 — the service must start and serve exactly what a rebuild from the log
 * gives, never the snapshot's idea of the world.
 */

const LOG_FILES = ['events.sqlite3', 'events.sqlite3-wal', 'events.sqlite3-shm'];
/** These tests tear and swap the embedded store's files, so they pin it even in the EventStoreDB suite. */
const EMBEDDED = { EVENTSTORE_CONNECTION_STRING: '' };
const auth = { authorization: `Bearer ${TEST_API_KEY}` };

async function post(
  child: { baseUrl: string },
  urlPath: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${child.baseUrl}${urlPath}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { token?: string; message?: string } };
}

async function served(child: LedgerChild): Promise<{ token: string; digest: string }> {
  const response = await fetch(`${child.baseUrl}/v1/projection`, { headers: auth });
  expect(response.status).toBe(200);
  return (await response.json()) as { token: string; digest: string };
}

async function withStore<T>(dataDir: string, use: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

const rebuilt = (dataDir: string) => withStore(dataDir, (store) => rebuildFromLog(store));

/** Registers devices and walks them through grants (some expiring), a revoke and a transfer. */
async function writeChanges(child: { baseUrl: string }, prefix: string, devices: number): Promise<void> {
  const expires = new Date(Date.now() + 3_600_000).toISOString();
  await Promise.all(
    Array.from({ length: devices }, async (_unused, d) => {
      const cam = `${prefix}-cam-${d}`;
      const results = [
        await post(
          child,
          '/v1/devices',
          { deviceId: cam, ownerId: `${prefix}-o${d}`, actor: 'svc:p' },
          { 'idempotency-key': `${prefix}-reg-${d}` },
        ),
      ];
      for (let v = 0; v < 3; v++) {
        results.push(
          await post(child, `/v1/devices/${cam}/grants`, {
            userId: `${prefix}-v${v}`,
            actor: 'svc:p',
            ...(v === 1 ? { expiresAt: expires } : {}),
          }),
        );
      }
      results.push(
        await post(child, `/v1/devices/${cam}/revocations`, { userId: `${prefix}-v0`, actor: 'svc:p' }),
      );
      if (d % 2 === 1) {
        results.push(
          await post(child, `/v1/devices/${cam}/transfers`, {
            newOwnerId: `${prefix}-v2`,
            actor: 'svc:p',
            keepViewers: true,
          }),
        );
      }
      expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
    }),
  );
}

/** Starts the service (a child process) on the data dir and checks it serves exactly the rebuild. */
async function startAndCompare(dataDir: string, env: Record<string, string> = {}): Promise<LedgerChild> {
  const expected = await rebuilt(dataDir);
  const child = await spawnLedger(dataDir, { LOG_LEVEL: 'info', ...EMBEDDED, ...env });
  try {
    expect(await served(child)).toEqual({ token: expected.token, digest: expected.digest });
  } catch (error) {
    await child.kill('SIGKILL');
    throw error;
  }
  return child;
}

async function restartAndCompare(dataDir: string): Promise<string> {
  const child = await startAndCompare(dataDir);
  await child.kill('SIGKILL');
  return child.output();
}

function copyLog(from: string, to: string): void {
  for (const file of LOG_FILES) {
    fs.rmSync(path.join(to, file), { force: true });
    if (fs.existsSync(path.join(from, file))) fs.copyFileSync(path.join(from, file), path.join(to, file));
  }
}

function registration(deviceId: string, ownerId: string) {
  return {
    stream: Streams.device(deviceId),
    expectedRevision: 'no_stream' as const,
    events: [
      {
        eventId: randomUUID(),
        type: 'DeviceRegistered',
        data: {
          deviceId,
          ownerId,
          actor: 'cli',
          occurredAt: '2024-02-16T09:00:00.000Z',
          recordedAt: '2024-02-16T09:00:00.000Z',
        },
      },
    ],
  };
}

/** The body of a snapshot file: everything before its trailer line. */
function bodyOf(snapshot: Buffer): Buffer {
  return snapshot.subarray(0, snapshot.lastIndexOf('\n#') + 1);
}

function withTrailer(body: Buffer | string, hmacKey: Buffer | null): Buffer {
  const trailer = hmacKey
    ? `hmac-sha256:${createHmac('sha256', hmacKey).update(body).digest('hex')}`
    : createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(body), Buffer.from(`#${trailer}\n`)]);
}

/** A snapshot's content, read whatever its trailer says (as its writer, or a forger, can). */
function decoded(snapshot: Buffer): {
  header: SnapshotHeader;
  table: RelationshipTable;
  idempotency: IdempotencyIndex;
} {
  const dir = tempDataDir('ledger-snapshot-decode-');
  fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), withTrailer(bodyOf(snapshot), null));
  const table = new RelationshipTable();
  const idempotency = new IdempotencyIndex();
  const result = loadSnapshot(dir, 'sqlite', table, idempotency);
  if (result.kind !== 'loaded') throw new Error(`the snapshot does not decode: ${JSON.stringify(result)}`);
  return { header: result.header, table, idempotency };
}

/** Writes read models as a snapshot file of the format this version writes, trailed as asked. */
async function encoded(
  header: SnapshotHeader,
  table: RelationshipTable,
  idempotency: IdempotencyIndex,
  hmacKey: Buffer | null,
): Promise<Buffer> {
  const dir = tempDataDir('ledger-snapshot-encode-');
  const position = { commit: BigInt(header.commit), prepare: BigInt(header.prepare) };
  return fs.readFileSync(
    await writeSnapshot(dir, header.store, position, table, idempotency, header.anchor ?? null, hmacKey),
  );
}

/** One device's serialized form with an open viewer interval for `userId` added, as the table writes them. */
function withForgedGrant(table: RelationshipTable, deviceId: string, userId: string) {
  const device = [...table.serialize()].find((d) => d.deviceId === deviceId);
  if (!device) throw new Error(`no device ${deviceId} in the snapshot`);
  // [start, end (null: open), code 0 (viewer, open)].
  return {
    ...device,
    access: [...device.access, [userId, [device.registeredAt, null, 0]] as [string, number[]]],
  };
}

/**
 * What someone who can write the data dir would do: grant `userId` open-ended access to `deviceId` inside the
 * snapshot and recompute the trailer — a plain checksum, or an HMAC under a key of their own.
 */
async function forgeGrant(
  snapshot: Buffer,
  deviceId: string,
  userId: string,
  hmacKey: Buffer | null = null,
): Promise<Buffer> {
  const { header, table, idempotency } = decoded(snapshot);
  table.restore(withForgedGrant(table, deviceId, userId));
  return encoded(header, table, idempotency, hmacKey);
}

/**
 * The same content in the JSON-lines format older versions wrote (format 1): a header line, a `D` line per
 * device and an `I` line per Idempotency-Key, then the trailer. Such snapshots are still loaded.
 */
function asJsonLines(snapshot: Buffer, hmacKey: Buffer | null = null): Buffer {
  const { header, table, idempotency } = decoded(snapshot);
  const lines = [
    JSON.stringify({ ...header, format: 'ledger-projection-snapshot/1', users: undefined }),
    ...[...table.serialize()].map((device) => 'D' + JSON.stringify(device)),
    ...[...idempotency.serialize()].map((entry) => 'I' + JSON.stringify(entry)),
  ];
  return withTrailer(lines.join('\n') + '\n', hmacKey);
}

/** A JSON-lines snapshot with a grant forged into its device line, its trailer recomputed. */
function forgeGrantInJsonLines(snapshot: Buffer, deviceId: string, userId: string): Buffer {
  const lines = snapshot.toString('utf8').split('\n');
  lines.splice(lines.length - 2); // the trailer line and the empty string after its newline
  const at = lines.findIndex((l) => l.startsWith('D') && l.includes(`"deviceId":"${deviceId}"`));
  const device = JSON.parse(lines[at].slice(1)) as { registeredAt: number; access: unknown[] };
  device.access.push([userId, [device.registeredAt, null, 0]]);
  lines[at] = 'D' + JSON.stringify(device);
  return withTrailer(lines.join('\n') + '\n', null);
}

describe('projection snapshot safety', () => {
  /** The log after a first batch of changes, and after a second one; `sound` is the snapshot of the second. */
  const shortLog = tempDataDir('ledger-snapshot-short-');
  const longLog = tempDataDir('ledger-snapshot-long-');
  let sound: Buffer;

  beforeAll(async () => {
    const env = { LEDGER_API_KEYS: TEST_API_KEYS, ...EMBEDDED };
    const first = await startLedger({ dataDir: longLog, env });
    await writeChanges(first, 'a', 6);
    await first.close();
    copyLog(longLog, shortLog);
    const second = await startLedger({ dataDir: longLog, env });
    await writeChanges(second, 'b', 6);
    await second.close();
    sound = fs.readFileSync(path.join(longLog, 'snapshots', SNAPSHOT_FILE));
  });

  /** A data dir holding the given log and snapshot. */
  function dataDirWith(log: string, snapshot: Buffer): string {
    const dir = tempDataDir('ledger-snapshot-');
    copyLog(log, dir);
    fs.mkdirSync(path.join(dir, 'snapshots'));
    fs.writeFileSync(path.join(dir, 'snapshots', SNAPSHOT_FILE), snapshot);
    return dir;
  }

  describe('the service (a child process)', () => {
    it('discards a torn (truncated) snapshot and a leftover temp file, starts, serves exactly the rebuild, and still knows its Idempotency-Keys', async () => {
      const dir = dataDirWith(longLog, sound.subarray(0, Math.floor(sound.length / 2)));
      fs.writeFileSync(
        path.join(dir, 'snapshots', `${SNAPSHOT_FILE}.999999.tmp`),
        'half a snapshot from a crashed writer',
      );
      const child = await startAndCompare(dir);
      try {
        // The snapshot also carried the idempotency index: without it, the log still answers repeats.
        const before = await served(child);
        const body = { deviceId: 'a-cam-0', ownerId: 'a-o0', actor: 'svc:p' };
        const repeat = await post(child, '/v1/devices', body, { 'idempotency-key': 'a-reg-0' });
        expect(repeat).toEqual({ status: 201, body: { deviceId: 'a-cam-0', token: expect.any(String) } });
        const reused = await post(
          child,
          '/v1/devices',
          { ...body, ownerId: 'mallory' },
          { 'idempotency-key': 'a-reg-0' },
        );
        expect(reused.status).toBe(409);
        expect(await served(child)).toEqual(before);
      } finally {
        await child.kill('SIGKILL');
      }
      const output = child.output();
      expect(output).toMatch(/projection snapshot discarded \(torn/);
      expect(output).not.toMatch(/projection snapshot loaded/);
    });

    it('discards a snapshot edited so that it still parses (one number changed), by its checksum', async () => {
      // A device's registration time, as the snapshot holds it: a double among the timelines.
      const registeredAt = decoded(sound).table.timeline('a-cam-0')!.registeredAt;
      const was = Buffer.alloc(8);
      was.writeDoubleLE(registeredAt);
      const at = sound.indexOf(was, sound.indexOf('\n'));
      expect(at).toBeGreaterThan(0);
      const edited = Buffer.from(sound);
      edited.writeDoubleLE(registeredAt + 1000, at);
      // The edit matters: loaded as is (its checksum recomputed), the table would not be the log's.
      expect(decoded(edited).table.digest()).not.toBe((await rebuilt(longLog)).digest);

      const output = await restartAndCompare(dataDirWith(longLog, edited));
      expect(output).toMatch(/projection snapshot discarded \(torn or edited: checksum mismatch/);
    });

    it('discards a forged snapshot (a grant added, its checksum recomputed): the grant is never served', async () => {
      const forged = await forgeGrant(sound, 'a-cam-0', 'mallory');
      // The forgery is whole by its checksum and, loaded as is, would allow mallory.
      expect(decoded(forged).table.check('mallory', 'a-cam-0', Date.now()).allowed).toBe(true);

      const child = await startAndCompare(dataDirWith(longLog, forged));
      try {
        const check = await post(child, '/v1/check', { userId: 'mallory', deviceId: 'a-cam-0' });
        expect(check.body).toMatchObject({ allowed: false, role: null });
      } finally {
        await child.kill('SIGKILL');
      }
      expect(child.output()).toMatch(/discarded \(forged or edited/);
      expect(child.output()).not.toMatch(/projection snapshot loaded/);
    });

    it('with LEDGER_EXPORT_KEY in the environment, authenticates its snapshots and discards one forged under another key', async () => {
      const env = { LEDGER_EXPORT_KEY: 'a'.repeat(64) };
      const dir = dataDirWith(longLog, sound);
      // A clean stop after a change writes an authenticated snapshot; the next start loads it by its key.
      const first = await startAndCompare(dir, env);
      expect(
        (await post(first, '/v1/devices', { deviceId: 'k-cam', ownerId: 'k-o', actor: 'svc:p' })).status,
      ).toBe(201);
      await first.kill('SIGTERM');
      const authenticated = fs.readFileSync(path.join(dir, 'snapshots', SNAPSHOT_FILE));
      expect(authenticated.toString('latin1')).toMatch(/\n#hmac-sha256:[0-9a-f]{64}\n$/);
      const second = await startAndCompare(dir, env);
      await second.kill('SIGKILL');
      expect(second.output()).toMatch(/snapshot loaded .*authenticated by its key/);

      const forged = await forgeGrant(authenticated, 'a-cam-0', 'mallory', deriveSnapshotKey('b'.repeat(64)));
      const child = await startAndCompare(dataDirWith(longLog, forged), env);
      try {
        const check = await post(child, '/v1/check', { userId: 'mallory', deviceId: 'a-cam-0' });
        expect(check.body).toMatchObject({ allowed: false, role: null });
      } finally {
        await child.kill('SIGKILL');
      }
      expect(child.output()).toMatch(/snapshot discarded \(torn, edited or forged: authentication failed/);
    });

    it('discards a stale snapshot whose log was replaced by an older copy; after kill -9 during snapshot writes, restarts to the rebuild', async () => {
      const dir = dataDirWith(shortLog, sound);
      expect((await rebuilt(dir)).events).toBeLessThan((await rebuilt(longLog)).events);
      // Snapshots after every event, so the kill below lands among snapshot writes.
      const child = await startAndCompare(dir, { LEDGER_SNAPSHOT_EVERY: '1' });
      expect(child.output()).toMatch(/ahead of the log head/);

      const random = seededRandom();
      let acknowledged = 0;
      let stop = false;
      const worker = async (w: number) => {
        const cam = `k-cam-${w}`;
        for (let n = 0; !stop; n++) {
          try {
            const response =
              n === 0
                ? await post(child, '/v1/devices', { deviceId: cam, ownerId: `k-o${w}`, actor: 'svc:p' })
                : random.chance(0.5)
                  ? await post(child, `/v1/devices/${cam}/grants`, { userId: `k-v${n % 7}`, actor: 'svc:p' })
                  : await post(child, '/v1/views/batch', {
                      views: Array.from({ length: 5 }, (_unused, i) => ({
                        viewerId: `k-v${i}`,
                        deviceId: cam,
                        mediaId: `m-${n}-${i}`,
                        mediaType: 'thumbnail',
                        action: 'delivered',
                        occurredAt: new Date().toISOString(),
                      })),
                    });
            if (response.status === 201) acknowledged++;
          } catch {
            return; // killed under us
          }
        }
      };
      const writers = Array.from({ length: 6 }, (_unused, w) => worker(w));
      const snapshot = path.join(dir, 'snapshots', SNAPSHOT_FILE);
      // Kill once snapshots have been rewritten many times, at a moment chosen by the seed.
      const target = 25 + random.int(0, 25);
      while (acknowledged < target || !fs.existsSync(snapshot))
        await new Promise((resolve) => setTimeout(resolve, 5));
      await child.kill('SIGKILL');
      stop = true;
      await Promise.all(writers);

      const output = await restartAndCompare(dir);
      expect(output).not.toMatch(/failed to start/);
      expect((await rebuilt(dir)).events).toBeGreaterThanOrEqual(acknowledged);
    });
  });

  describe('the projection (in process)', () => {
    async function startWith(
      logDir: string,
      snapshot: Buffer,
      snapshotKey: Buffer | null = null,
    ): Promise<{ warned: string[]; loaded: boolean }> {
      const dir = dataDirWith(logDir, snapshot);
      return withStore(dir, async (store) => {
        const warned: string[] = [];
        let loaded = false;
        const projection = new LiveProjection(store, {
          snapshotDir: path.join(dir, 'snapshots'),
          snapshotKey,
          logger: {
            log: (m) => (loaded ||= /snapshot loaded/.test(m)),
            warn: (m) => warned.push(m),
            error: () => undefined,
          },
        });
        await projection.start();
        try {
          const expected = await rebuildFromLog(store);
          expect({ digest: projection.digest(), token: projection.token }).toEqual({
            digest: expected.digest,
            token: expected.token,
          });
        } finally {
          await projection.stop();
        }
        return { warned, loaded };
      });
    }

    it('uses a sound snapshot, and discards every byte flip and truncation of it', async () => {
      expect(await startWith(longLog, sound)).toEqual({ warned: [], loaded: true });
      const random = seededRandom();
      for (let i = 0; i < 30; i++) {
        const damaged = Buffer.from(sound);
        const at = random.int(0, damaged.length - 1);
        damaged[at] ^= random.int(1, 255);
        const torn = i % 3 === 0;
        const outcome = await startWith(longLog, torn ? sound.subarray(0, at) : damaged);
        expect({ seed: random.seed, at, torn, outcome }).toEqual({
          seed: random.seed,
          at,
          torn,
          outcome: { warned: [expect.stringMatching(/discard/)], loaded: false },
        });
      }
    });

    it('discards a forged snapshot like a torn one, with or without a snapshot key', async () => {
      const key = deriveSnapshotKey('the operator secret');
      const discarded = { warned: [expect.stringMatching(/discard/)], loaded: false };
      const forged = await forgeGrant(sound, 'b-cam-1', 'mallory');
      // No key: the checksum is recomputed by the forger; the check against the device events finds it.
      expect(await startWith(longLog, forged)).toEqual(discarded);
      // A key: a checksum-only snapshot is checked against the log the same way …
      expect(await startWith(longLog, forged, key)).toEqual(discarded);
      // … and an HMAC under any other key fails authentication, as does one with no key to check it by.
      const otherKey = deriveSnapshotKey('a guess');
      expect(await startWith(longLog, await forgeGrant(sound, 'b-cam-1', 'mallory', otherKey), key)).toEqual(
        discarded,
      );
      expect(await startWith(longLog, await forgeGrant(sound, 'b-cam-1', 'mallory', key))).toEqual(discarded);
      // The genuine snapshot, authenticated under the right key, loads.
      const genuine = withTrailer(bodyOf(sound), key);
      expect(await startWith(longLog, genuine, key)).toEqual({ warned: [], loaded: true });
    });

    it('loads a snapshot of the JSON-lines format older versions wrote, and discards one forged in it', async () => {
      expect(await startWith(longLog, asJsonLines(sound))).toEqual({ warned: [], loaded: true });
      const key = deriveSnapshotKey('the operator secret');
      expect(await startWith(longLog, asJsonLines(sound, key), key)).toEqual({ warned: [], loaded: true });
      expect(
        await startWith(longLog, forgeGrantInJsonLines(asJsonLines(sound), 'b-cam-1', 'mallory')),
      ).toEqual({
        warned: [expect.stringMatching(/forged or edited/)],
        loaded: false,
      });
    });

    it('discards a snapshot that does not belong to the log: a fresh shorter log, or an older copy written to since', async () => {
      const fresh = tempDataDir('ledger-snapshot-fresh-');
      await withStore(fresh, async (store) => {
        await store.append(registration('other', 'x'));
      });
      expect((await startWith(fresh, sound)).warned).toEqual([
        expect.stringMatching(/ahead of the log head/),
      ]);

      // The older copy, written to since (by the CLI, another instance): it now reaches past the snapshot's
      // position, but it is not the log the snapshot was built from.
      const diverged = tempDataDir('ledger-snapshot-diverged-');
      copyLog(shortLog, diverged);
      const snapshotAt = BigInt(
        (JSON.parse(sound.toString('latin1').split('\n')[0]) as { commit: string }).commit,
      );
      const store = SqliteEventStore.open({ dataDir: diverged });
      try {
        for (let n = 0; (await store.headPosition()).commit <= snapshotAt; n++)
          await store.append(registration(`late-${n}`, 'mallory'));
      } finally {
        await store.close();
      }
      expect((await startWith(diverged, sound)).warned).toEqual([expect.stringMatching(/another log/)]);
    });
  });
});

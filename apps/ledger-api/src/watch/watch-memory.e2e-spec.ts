import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Streams } from '@ledger/domain';
import { openEventStore, positionToToken, START, type AppendRequest } from '@ledger/event-store';
import { spawnLedger, TEST_API_KEY, type LedgerChild } from '../../../../test/support/ledger-child';
import { tempDataDir } from '../../../../test/support/ledger-test-app';

const HISTORY_DEVICES = 20_000;
const WATCHERS = 30;
/**
 * Generous (about ten times what paged history measures: one page per connection plus socket bookkeeping).
 * The old feed, which buffered the whole history per connection, grew by 136 MB here within two seconds and
 * kept growing.
 */
const MAX_RSS_GROWTH_BYTES = 60 * 1024 * 1024;

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** A client that sends the request, reads the status line, then never reads again. */
function idleWatcher(port: number, after: string): Promise<{ socket: net.Socket; status: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        `GET /v1/watch?after=${after} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_API_KEY}\r\n\r\n`,
      );
    });
    socket.once('error', reject);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      resolve({ socket, status: chunk.toString('latin1').split('\r\n')[0] });
    });
  });
}

describe('GET /v1/watch under clients that never read (service as a child process)', () => {
  let child: LedgerChild;
  const dataDir = tempDataDir('ledger-watch-memory-');

  beforeAll(async () => {
    const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    try {
      const at = '2024-02-16T09:00:00.000Z';
      for (let batch = 0; batch < HISTORY_DEVICES / 1000; batch++) {
        const requests: AppendRequest[] = Array.from({ length: 1000 }, (_unused, i) => {
          const deviceId = `hist-cam-${batch * 1000 + i}`;
          return {
            stream: Streams.device(deviceId),
            expectedRevision: 'no_stream',
            events: [
              {
                eventId: randomUUID(),
                type: 'DeviceRegistered',
                data: {
                  deviceId,
                  ownerId: `hist-owner-${i}`,
                  actor: 'svc:p',
                  occurredAt: at,
                  recordedAt: at,
                },
              },
            ],
          };
        });
        await store.appendMany(requests);
      }
    } finally {
      await store.close();
    }
    child = await spawnLedger(dataDir, { EVENTSTORE_CONNECTION_STRING: '' });
  }, 120_000);

  afterAll(async () => {
    await child?.kill('SIGKILL');
  });

  it('keeps memory bounded and /health/live answering while watchers resuming from the start never read', async () => {
    const port = Number(new URL(child.baseUrl).port);
    const pid = child.process.pid!;
    // Warm up the paths a watch uses once, so the baseline is not Nest's first-request allocations.
    const warm = await idleWatcher(port, positionToToken(START));
    warm.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = rssOf(pid);

    const watchers = await Promise.all(
      Array.from({ length: WATCHERS }, () => idleWatcher(port, positionToToken(START))),
    );
    try {
      expect(watchers.map((w) => w.status)).toEqual(watchers.map(() => 'HTTP/1.1 200 OK'));
      let peak = rssOf(pid);
      // While they sit there, the service keeps answering; sample its memory as it does.
      for (let probe = 0; probe < 10; probe++) {
        const live = await fetch(`${child.baseUrl}/health/live`, { signal: AbortSignal.timeout(30_000) });
        expect(live.status).toBe(200);
        peak = Math.max(peak, rssOf(pid));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const check = await fetch(`${child.baseUrl}/v1/check`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'hist-owner-1', deviceId: 'hist-cam-1' }),
      });
      expect(check.status).toBe(200);
      expect(peak - before).toBeLessThan(MAX_RSS_GROWTH_BYTES);
    } finally {
      for (const watcher of watchers) watcher.socket.destroy();
    }
  });
});

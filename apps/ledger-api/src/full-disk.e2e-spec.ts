import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  freePort,
  spawnLedger,
  TEST_API_KEY,
  TEST_API_KEYS,
  type LedgerChild,
} from '../../../test/support/ledger-child';
import { tempDataDir } from '../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '..', '..', '..');
/** The embedded store is the one whose file sits on the data dir's disk (also in the EventStoreDB run). */
const EMBEDDED = { EVENTSTORE_CONNECTION_STRING: '' };
const auth = { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function views(count: number, prefix: string) {
  return {
    views: Array.from({ length: count }, (_, i) => ({
      viewerId: `viewer-${i % 50}`,
      deviceId: `cam-${i % 20}`,
      mediaId: `${prefix}-${i}`,
      mediaType: 'thumbnail',
      action: 'delivered',
      occurredAt: '2024-02-16T09:41:07.123Z',
      servedBy: `cdn-edge-${'x'.repeat(100)}-${i}`,
    })),
  };
}

/** Issue #12 finding 8: a full disk must neither hang the process nor leave it reporting ready. */
describe('a full disk', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('under stdout never blocks the service: requests and probes are answered, lost lines counted, SIGTERM exits', async () => {
    const dataDir = tempDataDir('ledger-full-stdout-');
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    // /dev/full refuses every write with ENOSPC, as a file on a full disk does.
    const full = fs.openSync('/dev/full', 'w');
    const child = spawn(
      process.execPath,
      ['-r', './test/support/register-ts.js', 'apps/ledger-api/src/main.ts'],
      {
        cwd: root,
        env: {
          ...process.env,
          ...EMBEDDED,
          LEDGER_DATA_DIR: dataDir,
          PORT: String(port),
          HOST: '127.0.0.1',
          LEDGER_API_KEYS: TEST_API_KEYS,
          LOG_LEVEL: 'debug',
        },
        stdio: ['ignore', full, 'pipe'],
      },
    );
    fs.closeSync(full);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const base = `http://127.0.0.1:${port}`;
    await until('the service answers /health/live', async () =>
      (await fetch(`${base}/health/live`)).ok ? true : undefined,
    );
    for (let i = 0; i < 200; i++) {
      // Every request is logged at debug: each of those lines hits ENOSPC.
      const response = await fetch(`${base}/v1/projection`, { headers: auth });
      expect(response.status).toBe(200);
      await response.text();
    }
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    const dropped = Number(/^ledger_log_lines_dropped (\d+)$/m.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThanOrEqual(200);
    child.kill('SIGTERM');
    await exited;
  }, 120_000);

  it('under the data dir makes readiness 503 with the reason, and ready again once there is room', async () => {
    if (process.getuid?.() !== 0) {
      throw new Error('this test mounts a small tmpfs and needs root (CI runs as root); run it as root');
    }
    const mountPoint = tempDataDir('ledger-full-data-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint]);
    cleanups.push(() => {
      execFileSync('umount', ['-l', mountPoint]);
      fs.rmSync(mountPoint, { recursive: true, force: true });
    });
    const dataDir = path.join(mountPoint, 'data');
    const service: LedgerChild = await spawnLedger(dataDir, EMBEDDED);
    cleanups.push(async () => void (await service.kill('SIGKILL')));
    const call = async (method: string, route: string, body?: unknown) => {
      const response = await fetch(`${service.baseUrl}${route}`, {
        method,
        headers: auth,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    expect((await call('POST', '/v1/views/batch', views(10, 'before'))).status).toBe(201);
    const ready = await call('GET', '/health');
    expect(ready.status).toBe(200);
    expect(ready.body.info.writable.status).toBe('up');

    // Fill the file system to the last byte.
    const filler = path.join(mountPoint, 'filler');
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(1 << 20);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    try {
      for (;;) fs.writeSync(fd, chunk, 0, 4096);
    } catch {
      // full to the page
    }
    fs.closeSync(fd);

    const refused = await call('POST', '/v1/views/batch', views(1000, 'during'));
    expect(refused.status).toBe(503);
    const notReady = await call('GET', '/health');
    expect(notReady.status).toBe(503);
    expect(notReady.body.details.writable.status).toBe('down');
    expect(notReady.body.message).toContain('not ready: writable (');
    expect(notReady.body.message).toMatch(/database or disk is full|ENOSPC/);
    // Liveness is a different question: the process still serves.
    expect((await fetch(`${service.baseUrl}/health/live`)).status).toBe(200);

    fs.rmSync(filler);
    await until('readiness is 200 again', async () =>
      (await call('GET', '/health')).status === 200 ? true : undefined,
    );
    expect((await call('POST', '/v1/views/batch', views(1000, 'after'))).status).toBe(201);
  }, 180_000);
});

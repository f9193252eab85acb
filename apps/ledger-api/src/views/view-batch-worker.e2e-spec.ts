/**
 * POST /v1/views/batch built on the view batch worker thread (no Idempotency-Key) answers exactly as the loop's
 * own path (taken with a key): the same refusals with the same field paths, nothing appended; and when the
 * thread dies, the batch it held is a 503 with nothing stored while the service goes on.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { comparePositions } from '@ledger/event-store';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../../test/support/ledger-test-app';
import { sendRaw } from '../../../../test/support/raw-http';
import { VIEW_BATCH_THREAD_READY } from './view-batch-thread';
import { ViewBatchWorker } from './view-batch-worker';

describe('POST /v1/views/batch on the view batch worker', () => {
  let ledger: LedgerTestApp;
  const id = uniqueIds('batchworker');
  let keys = 0;

  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  const view = (n: number, overrides: Record<string, unknown> = {}) => ({
    viewerId: id(`viewer${n}`),
    deviceId: id('cam'),
    mediaId: `media-${n}`,
    mediaType: 'thumbnail',
    action: 'delivered',
    occurredAt: new Date(Date.now() - 60_000).toISOString(),
    ...overrides,
  });

  const refusals: ReadonlyArray<[string, string, string]> = [
    [
      'a time in the future',
      JSON.stringify({ views: [view(0), view(1, { occurredAt: '2999-01-01T00:00:00Z' })] }),
      'views.1.occurredAt is more than 5 minutes in the future',
    ],
    [
      'a bad media type',
      JSON.stringify({ views: [view(0), view(1), view(2, { mediaType: 'gif' })] }),
      'views.2.mediaType',
    ],
    [
      'an unknown field',
      JSON.stringify({ views: [view(0, { extra: true })] }),
      'views.0.extra: property extra should not exist',
    ],
    ['no views', JSON.stringify({ views: [] }), 'views must hold at least 1 view'],
    [
      'a duplicate key',
      `{"views":[${JSON.stringify(view(0)).slice(0, -1)},"mediaId":"again"}]}`,
      'property views.0.mediaId appears more than once',
    ],
    [
      'a reserved key',
      `{"views":[${JSON.stringify(view(0)).slice(0, -1)},"__proto__":{}}]}`,
      'property views.0.__proto__ should not exist',
    ],
    ['broken JSON', '{"views": [', ''],
  ];

  it.each(refusals)(
    'refuses a batch with %s as the loop does, naming the field, and appends nothing',
    async (_what, body, message) => {
      const before = await ledger.head();
      const offLoop = await ledger.http('POST', '/v1/views/batch', body);
      const onLoop = await ledger.http('POST', '/v1/views/batch', body, { 'idempotency-key': `k-${keys++}` });
      expect(offLoop.status).toBe(400);
      expect(offLoop.body).toEqual(onLoop.body);
      expect(offLoop.body.message).toContain(message);
      expect(comparePositions(await ledger.head(), before)).toBe(0);
    },
  );

  it('answers a client that half-closed its side after sending, whether the batch is refused or stored', async () => {
    const port = Number(new URL(ledger.baseUrl).port);
    const send = (views: unknown[]) =>
      sendRaw(port, {
        method: 'POST',
        path: '/v1/views/batch',
        headers: [
          ['Authorization', `Bearer ${ledger.apiKey}`],
          ['Content-Type', 'application/json'],
        ],
        body: JSON.stringify({ views }),
      });
    const refused = await send([view(0, { mediaType: 'gif' })]);
    expect(refused.kind === 'response' && refused.response.status).toBe(400);
    const stored = await send([view(1)]);
    expect(stored.kind === 'response' && stored.response.status).toBe(201);
  });

  it('stores a batch with receipt-time recordedAt and unique time-ordered ids', async () => {
    const before = Date.now();
    const response = await ledger.http('POST', '/v1/views/batch', { views: [view(0), view(1), view(2)] });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ count: 3, token: expect.any(String) });
    const stored = (await ledger.store.readAll({ from: 'end', direction: 'backwards', maxCount: 3 })).events;
    expect(stored.map((event) => event.data.mediaId).sort()).toEqual(['media-0', 'media-1', 'media-2']);
    expect(new Set(stored.map((event) => event.eventId)).size).toBe(3);
    for (const event of stored) {
      expect(event.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
      expect(Date.parse(event.data.recordedAt as string)).toBeGreaterThanOrEqual(before - 1);
      expect(Date.parse(event.data.recordedAt as string)).toBeLessThanOrEqual(Date.now());
    }
  });

  /** A batch sent now gets the worker's 503 with `Retry-After`, its message matching `message`, and the log stays as it was. */
  async function expectRefusedWithNothingStored(message: RegExp): Promise<void> {
    const before = await ledger.head();
    const failed = await ledger.http('POST', '/v1/views/batch', { views: [view(0)] });
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('1');
    expect(failed.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: expect.stringMatching(message),
    });
    expect(comparePositions(await ledger.head(), before)).toBe(0);
  }

  it('answers 503 with nothing stored when the thread dies holding the batch, and serves the next one', async () => {
    const batches = ledger.app.get(ViewBatchWorker);
    // The next thread dies on its first batch, as a crash in the middle of one would.
    const internals = batches as unknown as { startThread: () => Worker };
    const startThread = internals.startThread;
    internals.startThread = () =>
      new Worker(`require('node:worker_threads').parentPort.on('message', () => process.exit(9));`, {
        eval: true,
      });
    await batches.onModuleDestroy();
    try {
      await expectRefusedWithNothingStored(/view batch worker failed .*nothing was stored, retry/);
    } finally {
      internals.startThread = startThread;
    }
    const next = await ledger.http('POST', '/v1/views/batch', { views: [view(1)] });
    expect(next.status).toBe(201);
    expect((await ledger.http('GET', '/health/live')).status).toBe(200);
  });

  it('answers 503 with nothing stored when the thread hangs past the batch timeout, and serves the next one', async () => {
    const batches = ledger.app.get(ViewBatchWorker);
    // The next thread starts, then blocks on its first batch and never answers.
    const internals = batches as unknown as { startThread: () => Worker; batchTimeoutMs: number };
    const { startThread, batchTimeoutMs } = internals;
    internals.startThread = () =>
      new Worker(
        `const { parentPort } = require('node:worker_threads');
         parentPort.on('message', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
         parentPort.postMessage(${JSON.stringify(VIEW_BATCH_THREAD_READY)});`,
        { eval: true },
      );
    internals.batchTimeoutMs = 1000;
    await batches.onModuleDestroy();
    try {
      await expectRefusedWithNothingStored(
        /did not answer a batch within 1000 ms.*nothing was stored, retry/,
      );
    } finally {
      internals.startThread = startThread;
      internals.batchTimeoutMs = batchTimeoutMs;
    }
    const next = await ledger.http('POST', '/v1/views/batch', { views: [view(1)] });
    expect(next.status).toBe(201);
    expect((await ledger.http('GET', '/health/live')).status).toBe(200);
  });
});

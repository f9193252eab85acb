import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { LedgerCommands } from '@ledger/application';
import { PreparedViewBatch } from './view-batch-preparation';
import {
  startViewBatchThread,
  VIEW_BATCH_THREAD_READY,
  VIEW_BATCH_WORKER_NICENESS,
} from './view-batch-thread';
import { ViewBatchWorker, ViewBatchWorkerFailedError } from './view-batch-worker';
import { niceOfThreads } from '../../../../test/support/thread-nice';

const RECEIVED_AT = Date.parse('2026-12-07T10:00:00.000Z');
/** The ledger's clock as the worker's owner reads it: fixed, so the batch's receipt time is known. */
const commands = { receiptTime: () => RECEIVED_AT } as unknown as LedgerCommands;

const body = (views: unknown[]) => Buffer.from(JSON.stringify({ views }));
const view = (n: number) => ({
  viewerId: `user-${n}`,
  deviceId: 'cam-7',
  mediaId: `media-${n}`,
  mediaType: 'thumbnail',
  action: 'played',
  occurredAt: '2026-12-07T09:59:00.000Z',
});

/** A thread that dies on its first message, as a crash in the middle of a batch would. */
const dyingThread = () =>
  new Worker(`require('node:worker_threads').parentPort.on('message', () => process.exit(7));`, {
    eval: true,
  });

/** A thread that starts, then never answers (blocked, not crashed), as a build stuck in a wait would. */
const hangingThread = () =>
  new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.on('message', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
     parentPort.postMessage(${JSON.stringify(VIEW_BATCH_THREAD_READY)});`,
    { eval: true },
  );

describe('ViewBatchWorker (the view batch worker thread)', () => {
  const started: ViewBatchWorker[] = [];
  const workerWith = (startThread?: () => Worker, batchTimeoutMs?: number) => {
    const worker = new ViewBatchWorker(commands, startThread, batchTimeoutMs);
    started.push(worker);
    return worker;
  };
  afterEach(async () => {
    for (const worker of started.splice(0)) await worker.onModuleDestroy();
  });

  it("builds a batch on its thread with the ledger clock's receipt time and unique time-ordered ids", async () => {
    const worker = workerWith();
    const prepared = await worker.prepare(body(Array.from({ length: 300 }, (_, n) => view(n))));
    expect(prepared).toBeInstanceOf(PreparedViewBatch);
    const { events } = (prepared as PreparedViewBatch).rows();
    expect(events.eventIds).toHaveLength(300);
    expect(
      events.dataJson.every(
        (text) => (JSON.parse(text) as { recordedAt: string }).recordedAt === '2026-12-07T10:00:00.000Z',
      ),
    ).toBe(true);
    expect(new Set(events.eventIds).size).toBe(300);
    expect(events.eventIds[0]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('hands back the very bytes of a body it does not accept whole, and goes on serving', async () => {
    const worker = workerWith();
    for (const text of ['{"views": [', JSON.stringify({ views: [{ ...view(0), mediaType: 'gif' }] })]) {
      // Big enough to own its memory, which then moves to the worker and back.
      const sent = Buffer.concat([Buffer.from(text), Buffer.alloc(8192, 0x20)]);
      const copy = Buffer.from(sent);
      const answer = await worker.prepare(sent);
      expect(answer).toBeInstanceOf(Buffer);
      expect(Buffer.compare(answer as Buffer, copy)).toBe(0);
    }
    await expect(worker.prepare(body([view(1)]))).resolves.toBeInstanceOf(PreparedViewBatch);
  });

  it('builds at a lower scheduling priority than the service thread, which keeps its own', async () => {
    const before = niceOfThreads();
    const worker = workerWith();
    await worker.prepare(body([view(0)]));
    const added = [...niceOfThreads()].filter(([thread]) => !before.has(thread));
    expect(added.some(([, nice]) => nice >= VIEW_BATCH_WORKER_NICENESS)).toBe(true);
    expect(niceOfThreads().get(process.pid)).toBe(before.get(process.pid));
  });

  it('fails the batches a dying thread held, then starts a new thread for the next one', async () => {
    const threads = [dyingThread, startViewBatchThread];
    const worker = workerWith(() => (threads.shift() ?? startViewBatchThread)());
    const held = [worker.prepare(body([view(0)])), worker.prepare(body([view(1)]))];
    for (const batch of held) {
      await expect(batch).rejects.toThrow(ViewBatchWorkerFailedError);
      await expect(batch).rejects.toThrow(/exited with code 7.*nothing was stored, retry/);
    }
    await expect(worker.prepare(body([view(2)]))).resolves.toBeInstanceOf(PreparedViewBatch);
  });

  it('fails the batches a hung thread held after the batch timeout, ends that thread, and starts a new one', async () => {
    let hung: Worker | undefined;
    const threads = [() => (hung = hangingThread()), startViewBatchThread];
    const worker = workerWith(() => (threads.shift() ?? startViewBatchThread)(), 1000);
    const held = [worker.prepare(body([view(0)])), worker.prepare(body([view(1)]))];
    for (const batch of held) {
      await expect(batch).rejects.toThrow(ViewBatchWorkerFailedError);
      await expect(batch).rejects.toThrow(/did not answer a batch within 1000 ms.*nothing was stored, retry/);
    }
    // The stuck thread is terminated, not left blocked beside the new one.
    expect(hung).toBeDefined();
    await new Promise((resolve) => (hung as Worker).once('exit', resolve));
    await expect(worker.prepare(body([view(2)]))).resolves.toBeInstanceOf(PreparedViewBatch);
  });
});

import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import type { RecordedEvent } from '@ledger/event-store';
import { IdempotencyIndex, IDEMPOTENCY_METADATA_KEY } from './idempotency.index';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Issue #16 item 1: a media service sending a fresh Idempotency-Key with every view. A million distinct keys
 * go through a 2-second window (one key per simulated millisecond): the index must hold about one window of
 * them, and the heap after the million must be where it was after the first hundred thousand — where an
 * index that never forgets would hold a million entries (hundreds of MB).
 */
describe('IdempotencyIndex soak: 1,000,000 distinct keys through a short window', () => {
  it('holds one window of keys and keeps the heap flat', () => {
    const T0 = Date.UTC(2024, 1, 16, 9, 0, 0);
    const windowMs = 2000;
    let now = T0;
    const index = new IdempotencyIndex({ retentionMs: windowMs, now: () => now });
    const total = 1_000_000;
    // One event object, rewritten for each key (the index keeps none of it), so the test's own garbage does
    // not drown what is measured.
    const record = { scope: '', requestHash: '', status: 201, body: { eventId: '' } };
    const data = { recordedAt: '' };
    const event = {
      eventId: '00000000-0000-4000-8000-000000000000',
      stream: 'views-0',
      revision: 0n,
      type: 'MediaViewed',
      data,
      metadata: { [IDEMPOTENCY_METADATA_KEY]: record },
      position: { commit: 0n, prepare: 0n },
    } as unknown as RecordedEvent & { position: { commit: bigint; prepare: bigint } };
    const scopeOf = (i: number) => `media-service:view-${i.toString(36)}-${'k'.repeat(24)}`;
    const sample = (i: number): RecordedEvent => {
      record.scope = scopeOf(i);
      record.requestHash = i.toString(16).padStart(64, '0');
      record.body.eventId = `0000${i}`;
      data.recordedAt = new Date(now).toISOString();
      event.position.commit = BigInt(i);
      event.position.prepare = event.position.commit;
      return event;
    };
    let warmHeap = 0;
    let largestSize = 0;
    for (let i = 0; i < total; i++) {
      now = T0 + i;
      index.apply(sample(i));
      if (i % 10_000 === 0) largestSize = Math.max(largestSize, index.size);
      if (i === 100_000) warmHeap = heapUsed();
    }
    const endHeap = heapUsed();
    // One key per ms through a 2 s window: at most 2,000 keys are remembered at any time.
    expect(largestSize).toBeLessThanOrEqual(windowMs);
    expect(index.size).toBe(windowMs);
    // The last keys are still answered; the first are long gone.
    expect(index.get(scopeOf(total - 1))).toBeDefined();
    expect(index.get(scopeOf(0))).toBeUndefined();
    // Flat: 900,000 more keys moved the heap by less than 8 MiB (a never-forgetting map: > 200 MiB).
    expect(endHeap - warmHeap).toBeLessThan(8 * 1024 * 1024);
  }, 120_000);
});

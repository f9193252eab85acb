import { describe, expect, it } from '@jest/globals';
import type { RecordedEvent } from '@ledger/event-store';
import { IdempotencyIndex, IDEMPOTENCY_METADATA_KEY } from './idempotency.index';

const T0 = Date.UTC(2024, 1, 16, 9, 0, 0);
let position = 0;

function keyed(scope: string, recordedAt: number, requestHash = 'h1', body: object = { deviceId: 'cam-1' }) {
  const at = BigInt(position++);
  return {
    eventId: `e-${at}`,
    stream: 'device-cam-1',
    revision: at,
    type: 'DeviceRegistered',
    data: { deviceId: 'cam-1', recordedAt: new Date(recordedAt).toISOString() },
    metadata: { [IDEMPOTENCY_METADATA_KEY]: { scope, requestHash, status: 201, body } },
    position: { commit: at, prepare: at },
  } as unknown as RecordedEvent;
}

describe('IdempotencyIndex with a retention window', () => {
  it('answers a key exactly as before inside the window and forgets it at the window’s end', () => {
    let now = T0;
    const index = new IdempotencyIndex({ retentionMs: 90_000, now: () => now });
    const event = keyed('svc:k1', T0, 'hash-1', { deviceId: 'cam-1' });
    index.apply(event);
    now = T0 + 89_999;
    expect(index.get('svc:k1')).toEqual({
      requestHash: 'hash-1',
      status: 201,
      body: { deviceId: 'cam-1' },
      position: event.position,
    });
    now = T0 + 90_000;
    expect(index.get('svc:k1')).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it('keeps the first answer of a key inside the window; after it, a reuse is a new request', () => {
    let now = T0;
    const index = new IdempotencyIndex({ retentionMs: 60_000, now: () => now });
    index.apply(keyed('svc:k', T0, 'first'));
    now = T0 + 30_000;
    index.apply(keyed('svc:k', now, 'second'));
    expect(index.get('svc:k')?.requestHash).toBe('first');
    now = T0 + 61_000;
    index.apply(keyed('svc:k', now, 'third'));
    expect(index.get('svc:k')?.requestHash).toBe('third');
  });

  it('does not take in keys already expired when applied (a rebuild from zero remembers only the window)', () => {
    const index = new IdempotencyIndex({ retentionMs: 60_000, now: () => T0 + 3_600_000 });
    for (let i = 0; i < 100; i++) index.apply(keyed(`svc:${i}`, T0 + i * 1000));
    expect(index.size).toBe(0);
    index.apply(keyed('svc:fresh', T0 + 3_590_000));
    expect(index.size).toBe(1);
  });

  it('never answers a key past its window even when writers recorded keys out of order', () => {
    let now = T0;
    const index = new IdempotencyIndex({ retentionMs: 10_000, now: () => now });
    index.apply(keyed('svc:late-clock', T0 + 5_000));
    index.apply(keyed('svc:early-clock', T0));
    now = T0 + 10_000;
    expect(index.get('svc:early-clock')).toBeUndefined();
    expect(index.get('svc:late-clock')).toBeDefined();
  });

  it('writes only unexpired keys to the snapshot, and restores them with their age', () => {
    let now = T0;
    const index = new IdempotencyIndex({ retentionMs: 10_000, now: () => now });
    index.apply(keyed('svc:old', T0));
    index.apply(keyed('svc:new', T0 + 8_000));
    now = T0 + 12_000;
    expect(index.size).toBe(1);
    const lines = [...index.serialize()];
    expect(lines.map(([scope]) => scope)).toEqual(['svc:new']);

    const restored = new IdempotencyIndex({ retentionMs: 10_000, now: () => now });
    for (const [scope, entry] of lines) restored.restore(scope, entry);
    expect(restored.get('svc:new')?.requestHash).toBe('h1');
    now = T0 + 18_000;
    expect(restored.get('svc:new')).toBeUndefined();
  });

  it('keeps an old snapshot’s keys (no recordedAt) one more full window', () => {
    let now = T0;
    const index = new IdempotencyIndex({ retentionMs: 10_000, now: () => now });
    index.restore('svc:legacy', { requestHash: 'h', status: 201, body: {}, commit: '7', prepare: '7' });
    now = T0 + 9_999;
    expect(index.get('svc:legacy')?.position).toEqual({ commit: 7n, prepare: 7n });
    now = T0 + 10_000;
    expect(index.get('svc:legacy')).toBeUndefined();
  });

  it('refuses a retention that is not a positive duration', () => {
    expect(() => new IdempotencyIndex({ retentionMs: 0 })).toThrow(RangeError);
  });
});

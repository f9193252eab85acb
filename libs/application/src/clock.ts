import { createHash, randomUUID } from 'node:crypto';

/** Time and ids come in from outside the logic, so tests can pin them. */
export interface Clock {
  now(): number;
}

export interface IdGenerator {
  eventId(): string;
}

/**
 * Wall clock that never goes backwards within the process: a revoke recorded at t and a check made after it
 * must never be judged at an instant before t, whatever NTP does to the system clock meanwhile.
 */
export class MonotonicClock implements Clock {
  private last = 0;
  now(): number {
    const now = Date.now();
    if (now > this.last) this.last = now;
    return this.last;
  }
}

export const randomIds: IdGenerator = { eventId: () => randomUUID() };

/**
 * The event ids of one write with an Idempotency-Key: derived from the key's scope (client and key), the
 * request's hash and the event's place in the write, so the same request sent to two instances at once
 * carries the same ids and the store keeps it once (EventStoreDB's idempotent append; the contract suite pins
 * the same for every adapter). UUIDs of version 8 (RFC 9562, custom).
 */
export function idempotentEventIds(scope: string, requestHash: string): (index: number) => string {
  return (index) => {
    const hex = createHash('sha256').update(`${scope}\n${requestHash}\n${index}`).digest('hex');
    const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
}

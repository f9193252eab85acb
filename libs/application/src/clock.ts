import { randomUUID } from 'node:crypto';

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

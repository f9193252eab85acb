import type { NewEvent } from '@ledger/event-store';
import { eventBytes, splitByBytes } from './append-size';

const event = (n: number, size: number): NewEvent => ({
  eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  type: 'MediaViewed',
  data: { mediaId: 'x'.repeat(size) },
});

describe('splitByBytes', () => {
  it('keeps every run within the limit, in order, losing nothing', () => {
    const events = Array.from({ length: 50 }, (_, n) => event(n, 10 + ((n * 37) % 200)));
    const limit = 1000;
    const parts = splitByBytes(events, limit);
    expect(parts.flat()).toEqual(events);
    for (const part of parts)
      expect(part.reduce((sum, e) => sum + eventBytes(e), 0)).toBeLessThanOrEqual(limit);
    expect(parts.length).toBeGreaterThan(1);
  });

  it('gives an event larger than the limit a run of its own', () => {
    const events = [event(1, 10), event(2, 5000), event(3, 10)];
    expect(splitByBytes(events, 1000).map((part) => part.length)).toEqual([1, 1, 1]);
  });
});

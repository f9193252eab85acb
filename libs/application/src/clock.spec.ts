import { timeOrderedIds } from './clock';

describe('timeOrderedIds', () => {
  it('makes version-7 UUIDs whose text order is the order of the milliseconds they were made in', async () => {
    const first = Array.from({ length: 1000 }, () => timeOrderedIds.eventId());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = timeOrderedIds.eventId();
    for (const id of [...first, later]) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(id.replace('-', '').slice(0, 12), 16)).toBeLessThanOrEqual(Date.now());
    }
    expect(new Set(first).size).toBe(1000);
    expect(first.every((id) => id < later)).toBe(true);
  });
});

import { describe, expect, it } from '@jest/globals';
import { RevisionCache } from './revision-cache';

describe('RevisionCache', () => {
  it('forgets exactly the streams another connection wrote after what this process last committed', () => {
    const cache = new RevisionCache(10, 4);
    cache.remember('a', 1);
    cache.remember('b', 2);
    const asked: number[] = [];
    cache.reconcile(7, (after) => {
      asked.push(after);
      return ['b', 'c'];
    });
    expect(asked).toEqual([4]);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
    // Reconciled at 7: the same head again asks nothing.
    cache.reconcile(7, () => {
      throw new Error('not asked');
    });
  });

  it('does not take its own commits for foreign ones', () => {
    const cache = new RevisionCache(10, -1);
    cache.remember('a', 0);
    cache.committedUpTo(0);
    cache.reconcile(0, () => {
      throw new Error('not asked');
    });
    expect(cache.get('a')).toBe(0);
  });

  it('forgets everything when the log shrank under it or a foreign commit is too large to inspect', () => {
    const cache = new RevisionCache(10, 100);
    cache.remember('a', 1);
    cache.reconcile(50, () => []);
    expect(cache.size).toBe(0);
    cache.remember('a', 1);
    cache.reconcile(50 + 1_000_000, () => {
      throw new Error('not asked');
    });
    expect(cache.size).toBe(0);
  });

  it('keeps at most its capacity, forgetting the stream remembered longest ago', () => {
    const cache = new RevisionCache(2, -1);
    cache.remember('a', 0);
    cache.remember('b', 0);
    cache.remember('c', 0);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 0, 0]);
  });
});

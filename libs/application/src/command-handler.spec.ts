import { ConcurrencyError, type AppendRequest, type AppendResult, type NewEvent } from '@ledger/event-store';
import { InMemoryEventStore } from '../../replay/src/testing/in-memory-event-store';
import { concurrencyRetry, handleCommand, LruStreamCache, type StreamFold } from './command-handler';

/** A stream whose state is the number of events in it. */
const counting: StreamFold<number> = { initialState: () => 0, apply: (n) => n + 1, clone: (n) => n };
let next = 0;
const event = (): NewEvent => ({
  eventId: `00000000-0000-4000-8000-${String(++next).padStart(12, '0')}`,
  type: 'Counted',
  data: {},
});

describe('handleCommand', () => {
  it('decides again on the new history when a concurrent append got in first', async () => {
    const store = new InMemoryEventStore();
    let interfered = false;
    const racing = Object.create(store) as InMemoryEventStore;
    racing.append = async (request: AppendRequest): Promise<AppendResult> => {
      if (!interfered) {
        interfered = true;
        await store.append({ stream: request.stream, expectedRevision: 'any', events: [event()] });
      }
      return store.append(request);
    };
    const seen: number[] = [];
    const handled = await handleCommand(
      racing,
      'counter-1',
      counting,
      (loaded) => {
        seen.push(loaded.state);
        return { events: [event()], result: loaded.state };
      },
      concurrencyRetry(3, 0),
    );
    expect(seen).toEqual([0, 1]);
    expect(handled.result).toBe(1);
    expect(await store.readStream('counter-1')).toHaveLength(2);
  });

  it('gives up after the policy’s retries with the store’s error', async () => {
    const store = new InMemoryEventStore();
    const contended = Object.create(store) as InMemoryEventStore;
    let attempts = 0;
    contended.append = (request: AppendRequest): Promise<AppendResult> => {
      attempts++;
      return Promise.reject(new ConcurrencyError(request.stream, 'no_stream', '0'));
    };
    const run = handleCommand(
      contended,
      'counter-2',
      counting,
      () => ({ events: [event()], result: null }),
      concurrencyRetry(2, 0),
    );
    await expect(run).rejects.toBeInstanceOf(ConcurrencyError);
    expect(attempts).toBe(3);
  });

  it('confirms a decision that appends nothing on a fresh read when the state came from the cache', async () => {
    const store = new InMemoryEventStore();
    const cache = new LruStreamCache<number>(10);
    const decide = (loaded: { state: number; fresh: boolean }) => ({
      events: loaded.state === 0 ? [event()] : [],
      result: { state: loaded.state, fresh: loaded.fresh },
      nextState: loaded.state + 1,
      confirmOnFreshRead: true,
    });
    await handleCommand(store, 'counter-3', counting, decide, concurrencyRetry(1, 0), cache);
    // Someone else appends: the cached state (1) is now stale.
    await store.append({ stream: 'counter-3', expectedRevision: 'any', events: [event()] });
    const second = await handleCommand(store, 'counter-3', counting, decide, concurrencyRetry(1, 0), cache);
    expect(second).toEqual({ result: { state: 2, fresh: true }, appended: null });
  });
});

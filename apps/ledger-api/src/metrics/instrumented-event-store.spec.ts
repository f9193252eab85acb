import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AppendRequest, AppendResult, EventStore } from '@ledger/event-store';
import { InstrumentedEventStore } from './instrumented-event-store';
import { LedgerMetrics } from './ledger-metrics';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A store whose appends are answered when the test says, keeping nothing of the request. */
function heldCommits() {
  const answers: Array<(result: AppendResult) => void> = [];
  const inner = {
    name: 'held',
    append: () => new Promise<AppendResult>((resolve) => answers.push(resolve)),
  } as unknown as EventStore;
  return { inner, answer: (result: AppendResult) => answers.shift()!(result) };
}

function bigRequest(): AppendRequest {
  return {
    stream: 'views-1',
    expectedRevision: 'any',
    events: Array.from({ length: 1000 }, (_, i) => ({
      eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      type: 'MediaViewed',
      data: { mediaId: `media-${i}` },
    })),
  };
}

describe('InstrumentedEventStore', () => {
  it('holds nothing of a request while its commit is in flight, and records it once answered', async () => {
    const { inner, answer } = heldCommits();
    const store = new InstrumentedEventStore(inner, new LedgerMetrics());
    let request: AppendRequest | null = bigRequest();
    const held = new WeakRef(request);
    const appended = store.append(request);
    request = null;
    await turn();
    collectGarbage();
    await turn();
    expect(held.deref()).toBeUndefined();

    const position = { commit: 7n, prepare: 7n };
    answer({ position, positions: [position], nextExpectedRevision: 999n } as unknown as AppendResult);
    await appended;
    expect(store.lastAppended).toBe(position);
    expect(store.appendedEvents).toBe(1000);
  });
});

import { InvalidInputError, Streams } from '@ledger/domain';
import { positionToToken } from '@ledger/event-store';
import { recordReplay } from './record-replay';
import { replayIncident } from './replay-incident';
import { HistoryBuilder } from './testing/history-builder';
import { InMemoryEventStore } from './testing/in-memory-event-store';

const T = (minute: number): number => Date.UTC(2024, 1, 16, 9, minute);

describe('recordReplay', () => {
  it('puts the replay on the record in the audit stream', async () => {
    const store = new InMemoryEventStore();
    const h = new HistoryBuilder().register('cam', 'alice', T(0));
    h.view('mallory', 'cam', T(5));
    await h.appendTo(store);
    const request = { from: '2024-02-16T10:00:00+01:00', deviceIds: ['cam', 'cam-2', 'cam'] };
    const report = await replayIncident(store, request);

    const recorded = await recordReplay(store, report, 'support:alice', request, {
      now: () => T(30),
      eventId: '11111111-2222-4333-8444-555555555555',
    });

    const [event] = await store.readStream(Streams.audit);
    expect(recorded).toEqual({ eventId: event.eventId, token: positionToToken(event.position) });
    expect(event.type).toBe('IncidentReplayed');
    expect(event.data).toEqual({
      actor: 'support:alice',
      window: { from: '2024-02-16T09:00:00.000Z', to: null },
      deviceIds: ['cam', 'cam-2'],
      logRange: report.logRange,
      exposures: 1,
      digest: report.digest,
      recordedAt: '2024-02-16T09:30:00.000Z',
    });
  });

  it('does not change the digest of the next replay of the same window', async () => {
    const store = new InMemoryEventStore();
    const h = new HistoryBuilder().register('cam', 'alice', T(0));
    h.view('mallory', 'cam', T(5));
    await h.appendTo(store);
    const first = await replayIncident(store, {});
    await recordReplay(store, first, 'cli:test', {});
    const second = await replayIncident(store, {});
    expect(second.digest).toBe(first.digest);
    expect(second.logRange.to).not.toBe(first.logRange.to);
  });

  it('refuses an empty actor', async () => {
    const store = new InMemoryEventStore();
    const report = await replayIncident(store, {});
    await expect(recordReplay(store, report, '', {})).rejects.toBeInstanceOf(InvalidInputError);
    expect(store.log).toHaveLength(0);
  });
});

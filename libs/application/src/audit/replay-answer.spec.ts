import type { Exposure, IncidentReport } from '@ledger/replay';
import {
  EXPOSURES_PER_ANSWER_PIECE,
  replayAnswerClosing,
  replayAnswerPieces,
  replayHeader,
  type ReplayAnswerShape,
} from './replay-answer';

function reportOf(exposureCount: number): IncidentReport {
  const exposures: Exposure[] = Array.from({ length: exposureCount }, (_, i) => ({
    eventId: `e-${i}`,
    occurredAt: new Date(Date.UTC(2024, 1, 16) + i).toISOString(),
    viewerId: `viewer "${i}"`,
    deviceId: `cam-${i % 7}`,
    ownerId: i % 5 === 0 ? null : `owner-${i % 3}`,
    mediaId: `m-é-${i}`,
    mediaType: 'thumbnail',
    action: 'opened',
    reason: 'never_granted',
  }));
  return {
    window: { from: null, to: '2024-02-17T00:00:00.000Z' },
    logRange: { from: 'lt1.s', to: 'lt1.9x' },
    summary: {
      viewsExamined: exposureCount * 3,
      exposures: exposureCount,
      viewersExposed: exposureCount,
      viewersOpened: exposureCount,
      viewersPlayedVideo: 0,
      ownersAffected: 3,
      devicesAffected: Math.min(7, exposureCount),
      firstExposureAt: exposures[0]?.occurredAt ?? null,
      lastExposureAt: exposures[exposureCount - 1]?.occurredAt ?? null,
    },
    exposures,
    digest: 'sha256:' + 'ab'.repeat(32),
  };
}

const recorded = { eventId: 'rec-1', token: 'lt1.9y' };
const answerOf = (report: IncidentReport, shape: ReplayAnswerShape): string =>
  [...replayAnswerPieces(report, shape)].join('') + replayAnswerClosing(shape, recorded);

describe('a replay answer in pieces', () => {
  const sizes = [0, 1, EXPOSURES_PER_ANSWER_PIECE, 2 * EXPOSURES_PER_ANSWER_PIECE + 3];

  it.each(sizes)('joins to the report as one JSON document (%i exposures)', (count) => {
    const report = reportOf(count);
    expect(answerOf(report, { kind: 'json' })).toBe(JSON.stringify({ ...report, recorded }));
  });

  it.each(sizes)('joins to one NDJSON line per part (%i exposures)', (count) => {
    const report = reportOf(count);
    const expected = [
      { report: replayHeader(report) },
      ...report.exposures.map((exposure) => ({ exposure })),
      { recorded },
    ]
      .map((line) => `${JSON.stringify(line)}\n`)
      .join('');
    expect(answerOf(report, { kind: 'ndjson' })).toBe(expected);
  });

  it.each([
    [0, 10],
    [5, 1],
    [EXPOSURES_PER_ANSWER_PIECE - 2, EXPOSURES_PER_ANSWER_PIECE + 4],
    [2 * EXPOSURES_PER_ANSWER_PIECE + 3, 10],
  ])('joins to one page of the report (offset %i, limit %i)', (offset, limit) => {
    const report = reportOf(2 * EXPOSURES_PER_ANSWER_PIECE + 3);
    const exposures = report.exposures.slice(offset, offset + limit);
    const end = offset + exposures.length;
    const total = report.exposures.length;
    expect(answerOf(report, { kind: 'page', offset, limit })).toBe(
      JSON.stringify({
        ...replayHeader(report),
        page: { offset, limit, returned: exposures.length, total, nextOffset: end < total ? end : null },
        exposures,
        recorded,
      }),
    );
  });

  it('never holds more than a piece of exposures in one piece', () => {
    const report = reportOf(3 * EXPOSURES_PER_ANSWER_PIECE);
    const longest = Math.max(...report.exposures.map((e) => JSON.stringify(e).length));
    for (const shape of [{ kind: 'json' }, { kind: 'ndjson' }] as const) {
      const pieces = [...replayAnswerPieces(report, shape)];
      expect(pieces.length).toBeGreaterThanOrEqual(3);
      for (const piece of pieces) {
        expect(piece.length).toBeLessThanOrEqual(EXPOSURES_PER_ANSWER_PIECE * (longest + 16) + 1024);
      }
    }
  });
});

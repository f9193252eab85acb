import type { Exposure, IncidentReport } from '@ledger/replay';
import {
  compareDetection,
  exposureKey,
  summaryOf,
  ViewKeySet,
  type InjectedExposure,
} from './ground-truth';

const injected: InjectedExposure[] = [
  {
    viewerId: 'u-2',
    deviceId: 'cam-1',
    mediaId: 'cam-1.evt-0',
    mediaType: 'thumbnail',
    action: 'delivered',
    occurredAt: '2024-02-16T09:41:07.123Z',
    reason: 'never_granted',
    ownerId: 'u-1',
  },
  {
    viewerId: 'u-2',
    deviceId: 'cam-1',
    mediaId: 'cam-1.evt-0',
    mediaType: 'thumbnail',
    action: 'opened',
    occurredAt: '2024-02-16T09:41:08.623Z',
    reason: 'never_granted',
    ownerId: 'u-1',
  },
  {
    viewerId: 'u-3',
    deviceId: 'cam-4',
    mediaId: 'cam-4.evt-1',
    mediaType: 'event_video',
    action: 'played',
    occurredAt: '2024-02-16T09:41:11.123Z',
    reason: 'revoked',
    ownerId: 'u-4',
  },
];

function exposure(truth: InjectedExposure, eventId: string, changes: Partial<Exposure> = {}): Exposure {
  return {
    eventId,
    occurredAt: truth.occurredAt,
    viewerId: truth.viewerId,
    deviceId: truth.deviceId,
    ownerId: truth.ownerId,
    mediaId: truth.mediaId,
    mediaType: truth.mediaType,
    action: truth.action,
    reason: truth.reason,
    ...changes,
  };
}

function report(exposures: Exposure[]): IncidentReport {
  const summary = summaryOf(exposures);
  return {
    window: { from: null, to: null },
    logRange: { from: 'lt1.s', to: 'lt1.9' },
    summary: { ...summary, viewsExamined: 100, firstExposureAt: null, lastExposureAt: null },
    exposures,
    digest: 'sha256:0',
  };
}

const truth = new Map(injected.map((e) => [exposureKey(e), e] as const));
const ids = ['e-1', 'e-2', 'e-3'];

describe('comparing a replay with the ground truth', () => {
  it('is exact when the replay reports exactly the injected exposures', () => {
    const outcome = compareDetection(report(injected.map((e, i) => exposure(e, ids[i]))), truth, new Set());
    expect(outcome).toMatchObject({
      injected: 3,
      detected: 3,
      falsePositives: 0,
      falseNegatives: 0,
      attributionMismatches: 0,
      authorizePathReplayExposures: 0,
      summaryMatches: true,
    });
    expect(outcome.expectedSummary).toEqual({
      exposures: 3,
      viewersExposed: 2,
      viewersOpened: 2,
      viewersPlayedVideo: 1,
      ownersAffected: 2,
      devicesAffected: 2,
    });
  });

  it('counts a missed exposure as a false negative', () => {
    const outcome = compareDetection(
      report([exposure(injected[0], 'e-1'), exposure(injected[2], 'e-3')]),
      truth,
      new Set(),
    );
    expect(outcome).toMatchObject({
      detected: 2,
      falseNegatives: 1,
      falsePositives: 0,
      summaryMatches: false,
    });
  });

  it('counts an invented or repeated exposure as a false positive', () => {
    const invented = exposure(injected[0], 'e-9', { occurredAt: '2024-02-16T09:41:07.124Z' });
    const repeated = exposure(injected[1], 'e-8');
    const outcome = compareDetection(
      report([...injected.map((e, i) => exposure(e, ids[i])), invented, repeated]),
      truth,
      new Set(),
    );
    expect(outcome).toMatchObject({ detected: 3, falsePositives: 2, falseNegatives: 0 });
  });

  it('counts a wrong reason or owner as misattributed', () => {
    const outcome = compareDetection(
      report([
        exposure(injected[0], 'e-1', { reason: 'revoked' }),
        exposure(injected[1], 'e-2', { ownerId: 'u-9' }),
        exposure(injected[2], 'e-3'),
      ]),
      truth,
      new Set(),
    );
    expect(outcome).toMatchObject({ detected: 3, attributionMismatches: 2 });
  });

  it('sets apart exposures of views the verification layer allowed', () => {
    const allowed = exposure(injected[0], 'auth-1', { mediaId: 'cam-1.evt-7' });
    const outcome = compareDetection(
      report([...injected.map((e, i) => exposure(e, ids[i])), allowed]),
      truth,
      new Set(['auth-1']),
    );
    expect(outcome).toMatchObject({ detected: 3, falsePositives: 0, authorizePathReplayExposures: 1 });
  });

  it('sets apart exposures of views the verification layer checked in bulk and recorded, by their key', () => {
    const allowed = exposure(injected[0], 'batch-1', { mediaId: 'cam-1.evt-7' });
    const recorded = new ViewKeySet();
    recorded.add(exposureKey(allowed));
    recorded.add(exposureKey({ ...allowed, action: 'opened' }));
    const outcome = compareDetection(
      report([...injected.map((e, i) => exposure(e, ids[i])), allowed]),
      truth,
      new Set(),
      recorded,
    );
    expect(outcome).toMatchObject({
      detected: 3,
      falsePositives: 0,
      falseNegatives: 0,
      authorizePathReplayExposures: 1,
    });
  });

  it('still matches an injected exposure whose key the verification layer also recorded', () => {
    const recorded = new ViewKeySet();
    recorded.add(exposureKey(injected[0]));
    const outcome = compareDetection(
      report(injected.map((e, i) => exposure(e, ids[i]))),
      truth,
      new Set(),
      recorded,
    );
    expect(outcome).toMatchObject({ detected: 3, authorizePathReplayExposures: 0, falsePositives: 0 });
  });
});

describe('a set of view keys kept as hashes', () => {
  it('knows every key added, across growth and after being handed to another thread', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => exposureKey({ ...injected[i % 3], mediaId: `m-${i}` }));
    const set = new ViewKeySet();
    keys.forEach((key) => set.add(key));
    const copy = ViewKeySet.fromArray(set.toArray());
    expect(set.count).toBe(5000);
    expect(keys.filter((key) => !set.has(key))).toEqual([]);
    expect(keys.filter((key) => !copy.has(key))).toEqual([]);
    expect(set.has(exposureKey({ ...injected[0], mediaId: 'm-5000' }))).toBe(false);
    expect(new ViewKeySet().has(keys[0])).toBe(false);
  });
});

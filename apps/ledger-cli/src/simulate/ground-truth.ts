import type { DenialReason, MediaType, ViewAction } from '@ledger/domain';
import type { IncidentReport, ReplaySummary } from '@ledger/replay';

/** A view the faulty media service served to someone who may not see the device: an injected exposure. */
export interface InjectedExposure {
  readonly viewerId: string;
  readonly deviceId: string;
  readonly mediaId: string;
  readonly mediaType: MediaType;
  readonly action: ViewAction;
  readonly occurredAt: string;
  readonly reason: DenialReason;
  readonly ownerId: string | null;
}

/** Exposures are matched on (viewer, device, media, action, occurredAt): unique per served view. */
export function exposureKey(view: {
  viewerId: string;
  deviceId: string;
  mediaId: string;
  action: string;
  occurredAt: string;
}): string {
  return `${view.viewerId}\u0001${view.deviceId}\u0001${view.mediaId}\u0001${view.action}\u0001${view.occurredAt}`;
}

export interface DetectionOutcome {
  readonly injected: number;
  readonly detected: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  /** Detected, but with the wrong reason, owner or media type. */
  readonly attributionMismatches: number;
  /** Exposures the replay found among views the verification layer allowed (must be none). */
  readonly authorizePathReplayExposures: number;
  /** The report's summary figures, computed from the ground truth instead. */
  readonly expectedSummary: Omit<ReplaySummary, 'viewsExamined' | 'firstExposureAt' | 'lastExposureAt'>;
  readonly summaryMatches: boolean;
  /** A few mismatches, for the human summary. */
  readonly samples: readonly string[];
}

/** The §4 figures that follow from a set of exposures. */
export function summaryOf(
  exposures: Iterable<Pick<InjectedExposure, 'viewerId' | 'deviceId' | 'ownerId' | 'action' | 'mediaType'>>,
): DetectionOutcome['expectedSummary'] {
  const viewers = new Set<string>();
  const opened = new Set<string>();
  const played = new Set<string>();
  const owners = new Set<string>();
  const devices = new Set<string>();
  let count = 0;
  for (const exposure of exposures) {
    count++;
    viewers.add(exposure.viewerId);
    devices.add(exposure.deviceId);
    if (exposure.ownerId !== null) owners.add(exposure.ownerId);
    if (exposure.action !== 'delivered') opened.add(exposure.viewerId);
    if (exposure.action === 'played' && exposure.mediaType !== 'thumbnail') played.add(exposure.viewerId);
  }
  return {
    exposures: count,
    viewersExposed: viewers.size,
    viewersOpened: opened.size,
    viewersPlayedVideo: played.size,
    ownersAffected: owners.size,
    devicesAffected: devices.size,
  };
}

/**
 * Compares the replay's exposures with the simulator's ground truth. Exposures of views the verification
 * layer allowed are counted apart (by event id): they would mean the authorize path exposed someone.
 */
export function compareDetection(
  report: IncidentReport,
  injected: ReadonlyMap<string, InjectedExposure>,
  authorizedPathEventIds: ReadonlySet<string>,
): DetectionOutcome {
  const matched = new Set<string>();
  let falsePositives = 0;
  let attributionMismatches = 0;
  let authorizePathReplayExposures = 0;
  const samples: string[] = [];
  const sample = (line: string): void => {
    if (samples.length < 10) samples.push(line);
  };
  for (const exposure of report.exposures) {
    if (authorizedPathEventIds.has(exposure.eventId)) {
      authorizePathReplayExposures++;
      sample(`authorize path exposed ${exposure.viewerId} to ${exposure.deviceId} (${exposure.reason})`);
      continue;
    }
    const key = exposureKey(exposure);
    const truth = injected.get(key);
    if (truth === undefined || matched.has(key)) {
      falsePositives++;
      sample(
        `false positive: ${exposure.viewerId} saw ${exposure.mediaId} at ${exposure.occurredAt} (${exposure.reason})`,
      );
      continue;
    }
    matched.add(key);
    if (
      exposure.reason !== truth.reason ||
      exposure.ownerId !== truth.ownerId ||
      exposure.mediaType !== truth.mediaType
    ) {
      attributionMismatches++;
      sample(
        `mismatch: ${exposure.viewerId} on ${exposure.deviceId}: replay says ${exposure.reason}/owner ${exposure.ownerId}, ` +
          `truth is ${truth.reason}/owner ${truth.ownerId}`,
      );
    }
  }
  for (const [key, truth] of injected) {
    if (matched.has(key)) continue;
    sample(`false negative: ${truth.viewerId} saw ${truth.mediaId} at ${truth.occurredAt} (${truth.reason})`);
    if (samples.length >= 10) break;
  }
  const expectedSummary = summaryOf(injected.values());
  const actual = report.summary;
  const summaryMatches =
    actual.exposures === expectedSummary.exposures &&
    actual.viewersExposed === expectedSummary.viewersExposed &&
    actual.viewersOpened === expectedSummary.viewersOpened &&
    actual.viewersPlayedVideo === expectedSummary.viewersPlayedVideo &&
    actual.ownersAffected === expectedSummary.ownersAffected &&
    actual.devicesAffected === expectedSummary.devicesAffected;
  return {
    injected: injected.size,
    detected: matched.size,
    falsePositives,
    falseNegatives: injected.size - matched.size,
    attributionMismatches,
    authorizePathReplayExposures,
    expectedSummary,
    summaryMatches,
    samples,
  };
}

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

/** A 53-bit hash of a string (cyrb53): a view's key in eight bytes instead of a string of eighty. */
export function keyHash(key: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The keys of the millions of views a service recorded, as sorted 53-bit hashes in one typed array (8 bytes a
 * view). Only ever asked about the replay's exposures, which are few; a hash collision could at worst file a
 * false positive under the verification layer instead, and both fail the run.
 */
export class ViewKeySet {
  private hashes = new Float64Array(1024);
  private size = 0;
  private sorted = true;

  add(key: string): void {
    if (this.size === this.hashes.length) {
      const grown = new Float64Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.size++] = keyHash(key);
    this.sorted = false;
  }

  get count(): number {
    return this.size;
  }

  has(key: string): boolean {
    if (!this.sorted) {
      this.hashes = this.hashes.slice(0, this.size).sort();
      this.sorted = true;
    }
    const wanted = keyHash(key);
    let low = 0;
    let high = this.size - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.hashes[middle];
      if (value === wanted) return true;
      if (value < wanted) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }

  /** The hashes alone, to hand to another thread. */
  toArray(): Float64Array {
    return this.hashes.slice(0, this.size);
  }

  static fromArray(hashes: Float64Array): ViewKeySet {
    const set = new ViewKeySet();
    set.hashes = hashes.slice().sort();
    set.size = hashes.length;
    return set;
  }
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
 * layer allowed are counted apart: they would mean the authorize path exposed someone. Those it allowed through
 * `/v1/media/authorize` are known by event id; those it checked in bulk and recorded through
 * `POST /v1/views/batch` (which returns no ids) by their key, once the key is not one of an injected exposure.
 */
export function compareDetection(
  report: IncidentReport,
  injected: ReadonlyMap<string, InjectedExposure>,
  authorizedPathEventIds: ReadonlySet<string>,
  verifiedViewKeys: { has(key: string): boolean } = { has: () => false },
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
    if ((truth === undefined || matched.has(key)) && verifiedViewKeys.has(key)) {
      authorizePathReplayExposures++;
      sample(`verification layer exposed ${exposure.viewerId} to ${exposure.deviceId} (${exposure.reason})`);
      continue;
    }
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

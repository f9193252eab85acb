import type { DenialReason, MediaType, ViewAction } from '@ledger/domain';
import type { ViewColumns } from './view-columns/view-columns';

/** What to replay (contract §4). Omitted bounds mean the whole log; the id lists narrow it. */
export interface ReplayRequest {
  readonly from?: string | null;
  readonly to?: string | null;
  readonly deviceIds?: readonly string[];
  readonly viewerIds?: readonly string[];
}

/** One unauthorized view. Key order is the contract's. */
export interface Exposure {
  readonly eventId: string;
  readonly occurredAt: string;
  readonly viewerId: string;
  readonly deviceId: string;
  /** Owner of the device at that instant, or null (unregistered or decommissioned device). */
  readonly ownerId: string | null;
  readonly mediaId: string;
  readonly mediaType: MediaType;
  readonly action: ViewAction;
  readonly reason: DenialReason;
}

export interface ReplaySummary {
  readonly viewsExamined: number;
  readonly exposures: number;
  readonly viewersExposed: number;
  readonly viewersOpened: number;
  readonly viewersPlayedVideo: number;
  readonly ownersAffected: number;
  readonly devicesAffected: number;
  readonly firstExposureAt: string | null;
  readonly lastExposureAt: string | null;
}

export interface ReplayWindow {
  readonly from: string | null;
  readonly to: string | null;
}

/** The incident report of contract §4. */
export interface IncidentReport {
  readonly window: ReplayWindow;
  /** The part of the log that was read, as tokens. */
  readonly logRange: { readonly from: string; readonly to: string };
  readonly summary: ReplaySummary;
  readonly exposures: readonly Exposure[];
  /** `sha256:<hex>` over the canonical JSON of `{window, summary, exposures}`. */
  readonly digest: string;
}

export type ReplayPhase = 'ownership' | 'views';

export interface ReplayOptions {
  /**
   * Called after every page. `readEvents` counts the events read so far over both passes; `totalHint` is
   * left undefined because the port cannot count a filtered range without reading it.
   */
  onProgress?(readEvents: number, totalHint: number | undefined, phase: ReplayPhase): void;
  /** Events per `$all` page (default 5000). */
  readonly pageSize?: number;
  /**
   * The embedded store's views projection. When given, the replay catches it up to the head and judges from
   * its columns; when it cannot stand in for the log (held by another catch-up, or holding an event it cannot
   * represent exactly), the replay reads the log as it does without it.
   */
  readonly columns?: ViewColumns;
}

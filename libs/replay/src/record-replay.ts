import { randomUUID } from 'node:crypto';
import { formatTime, InvalidInputError, Streams, type IncidentReplayed, type Millis } from '@ledger/domain';
import { positionToToken, type EventStore, type JsonObject } from '@ledger/event-store';
import type { IncidentReport, ReplayRequest } from './incident-report';
import { normalizedRequest, validateReplayRequest } from './replay-request';

export interface RecordReplayOptions {
  /** The ledger's clock (epoch ms); defaults to `Date.now`. */
  readonly now?: () => Millis;
  /** Defaults to a random UUID. */
  readonly eventId?: string;
}

export interface RecordedReplay {
  readonly eventId: string;
  /** Token of the `IncidentReplayed` event. */
  readonly token: string;
}

/**
 * Puts a replay on the record: appends `IncidentReplayed` (who ran it, what it asked, which part of the log
 * it read, how many exposures, the digest) to the audit stream. Replays never conflict, hence `'any'`.
 */
export async function recordReplay(
  store: EventStore,
  report: Pick<IncidentReport, 'window' | 'logRange' | 'summary' | 'digest'>,
  actor: string,
  request: ReplayRequest,
  options: RecordReplayOptions = {},
): Promise<RecordedReplay> {
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 256) {
    throw new InvalidInputError('actor', 'must be a non-empty string of at most 256 characters');
  }
  const normalized = normalizedRequest(validateReplayRequest(request));
  const eventId = options.eventId ?? randomUUID();
  const event: IncidentReplayed = {
    type: 'IncidentReplayed',
    data: {
      actor,
      window: { from: report.window.from, to: report.window.to },
      ...(normalized.deviceIds ? { deviceIds: normalized.deviceIds } : {}),
      ...(normalized.viewerIds ? { viewerIds: normalized.viewerIds } : {}),
      logRange: { from: report.logRange.from, to: report.logRange.to },
      exposures: report.summary.exposures,
      digest: report.digest,
      recordedAt: formatTime((options.now ?? Date.now)()),
    },
  };
  const result = await store.append({
    stream: Streams.audit,
    expectedRevision: 'any',
    events: [{ eventId, type: event.type, data: toJsonObject(event.data) }],
  });
  return { eventId, token: positionToToken(result.position) };
}

/** The event's fields are strings, numbers and (readonly) arrays of strings: JSON as they stand. */
function toJsonObject(data: IncidentReplayed['data']): JsonObject {
  return data as unknown as JsonObject;
}

import { formatTime, InvalidInputError, isValidId, parseRfc3339, type Millis } from '@ledger/domain';
import type { ReplayRequest, ReplayWindow } from './incident-report';

export const MAX_REPLAY_IDS = 10_000;

const REQUEST_FIELDS = new Set(['from', 'to', 'deviceIds', 'viewerIds']);

/** A validated replay request: bounds as epoch ms (±Infinity when open), id lists as sets. */
export interface ReplayQuery {
  readonly window: ReplayWindow;
  readonly fromMs: Millis;
  readonly toMs: Millis;
  /** null: every device. */
  readonly deviceIds: ReadonlySet<string> | null;
  /** null: every viewer. */
  readonly viewerIds: ReadonlySet<string> | null;
}

/**
 * Validates a replay request (typed or straight from a request body) and normalizes it. Throws
 * `InvalidInputError` naming the field; unknown fields are refused.
 */
export function validateReplayRequest(request: unknown): ReplayQuery {
  if (request === undefined || request === null) return validateReplayRequest({});
  if (typeof request !== 'object' || Array.isArray(request)) {
    throw new InvalidInputError('body', 'must be a JSON object');
  }
  const input = request as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!REQUEST_FIELDS.has(key)) throw new InvalidInputError(key, 'is not allowed');
  }
  const fromMs = bound(input.from, 'from');
  const toMs = bound(input.to, 'to');
  if (fromMs !== null && toMs !== null && !(fromMs < toMs)) {
    throw new InvalidInputError('to', 'must be later than from');
  }
  return {
    window: {
      from: fromMs === null ? null : formatTime(fromMs),
      to: toMs === null ? null : formatTime(toMs),
    },
    fromMs: fromMs ?? -Infinity,
    toMs: toMs ?? Infinity,
    deviceIds: idSet(input.deviceIds, 'deviceIds'),
    viewerIds: idSet(input.viewerIds, 'viewerIds'),
  };
}

/** The request as it is recorded in the ledger: canonical times, id lists de-duplicated and sorted. */
export function normalizedRequest(query: ReplayQuery): ReplayRequest {
  return {
    from: query.window.from,
    to: query.window.to,
    ...(query.deviceIds ? { deviceIds: [...query.deviceIds].sort() } : {}),
    ...(query.viewerIds ? { viewerIds: [...query.viewerIds].sort() } : {}),
  };
}

function bound(value: unknown, field: string): Millis | null {
  if (value === undefined || value === null) return null;
  const ms = parseRfc3339(value);
  if (ms === undefined) {
    throw new InvalidInputError(field, 'must be an RFC 3339 time such as 2024-02-16T09:41:07.123Z');
  }
  return ms;
}

function idSet(value: unknown, field: string): ReadonlySet<string> | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw new InvalidInputError(field, 'must be an array of ids');
  if (value.length === 0)
    throw new InvalidInputError(field, 'must not be empty (omit it to replay every id)');
  if (value.length > MAX_REPLAY_IDS)
    throw new InvalidInputError(field, `must hold at most ${MAX_REPLAY_IDS} ids`);
  const ids = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const id: unknown = value[i];
    if (!isValidId(id)) {
      throw new InvalidInputError(
        `${field}[${i}]`,
        'must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit',
      );
    }
    ids.add(id);
  }
  return ids;
}

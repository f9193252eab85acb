import { formatTime, InvalidInputError, isValidId, parseRfc3339, type Millis } from '@ledger/domain';

/** What an export covers. At least one of `deviceId` / `userId`; both means events matching both. */
export interface TrailFilter {
  readonly deviceId?: string;
  readonly userId?: string;
  /** Inclusive lower bound on the event's business time (RFC 3339). */
  readonly from?: string;
  /** Exclusive upper bound. */
  readonly to?: string;
}

export interface NormalizedFilter {
  /** As written into the manifest: given keys only, times in the one output form. */
  readonly filter: TrailFilter;
  readonly fromMs: Millis;
  readonly toMs: Millis;
}

/** Validates a filter (InvalidInputError naming the field) and puts its times in the output form. */
export function normalizeTrailFilter(input: TrailFilter): NormalizedFilter {
  const { deviceId, userId, from, to } = input;
  if (deviceId === undefined && userId === undefined) {
    throw new InvalidInputError(
      'deviceId',
      'or userId is required: an export covers a device, a user, or both',
    );
  }
  if (deviceId !== undefined && !isValidId(deviceId)) {
    throw new InvalidInputError(
      'deviceId',
      'must be 1–128 characters of A-Z a-z 0-9 . _ : -, starting alphanumeric',
    );
  }
  if (userId !== undefined && !isValidId(userId)) {
    throw new InvalidInputError(
      'userId',
      'must be 1–128 characters of A-Z a-z 0-9 . _ : -, starting alphanumeric',
    );
  }
  const fromMs = from === undefined ? -Infinity : parseRfc3339(from);
  if (fromMs === undefined) throw new InvalidInputError('from', 'must be an RFC 3339 time');
  const toMs = to === undefined ? Infinity : parseRfc3339(to);
  if (toMs === undefined) throw new InvalidInputError('to', 'must be an RFC 3339 time');
  if (toMs < fromMs) throw new InvalidInputError('to', 'must not be earlier than from');
  const filter: { deviceId?: string; userId?: string; from?: string; to?: string } = {};
  if (deviceId !== undefined) filter.deviceId = deviceId;
  if (userId !== undefined) filter.userId = userId;
  if (from !== undefined) filter.from = formatTime(fromMs);
  if (to !== undefined) filter.to = formatTime(toMs);
  return { filter, fromMs, toMs };
}

import type { DeviceEvent } from './events';
import type { DenialReason, Role } from './ids';
import type { Millis } from './time';

/**
 * The one implementation of contract §2. A device's timeline holds, per user, the half-open intervals
 * `[start, end)` of business time in which the user had access. Projections, historical checks, replay and
 * the decider all read it, so "authorized" has exactly one meaning.
 *
 * Intervals are stored flat (`[start, end, code, start, end, code, …]`) because the projection holds one per
 * relationship for a whole fleet and a plain array of doubles is the leanest thing V8 offers.
 * `end` is `Infinity` while open; an expiring grant stores its `expiresAt` as a provisional end with reason
 * `expired`, which a re-grant before that instant replaces — so an expiry takes effect with no event at all.
 */
export interface DeviceTimeline {
  readonly deviceId: string;
  readonly registeredAt: Millis;
  decommissionedAt: Millis | null;
  /** Business time of the latest ownership change: changes dated before it are refused. */
  lastChangeAt: Millis;
  /** Current owner; null once decommissioned. */
  owner: string | null;
  readonly access: Map<string, number[]>;
}

const ROLE_OWNER = 1;
// Reason codes live above the role bit.
const OPEN = 0;
const REVOKED = 2;
const EXPIRED = 4;
const TRANSFERRED = 6;
const DECOMMISSIONED = 8;

const REASON_BY_CODE: Record<number, DenialReason> = {
  [REVOKED]: 'revoked',
  [EXPIRED]: 'expired',
  [TRANSFERRED]: 'transferred',
  [DECOMMISSIONED]: 'decommissioned',
};

export type Judgement =
  | { readonly allowed: true; readonly role: Role }
  | { readonly allowed: false; readonly reason: DenialReason };

export interface ActiveAccess {
  readonly userId: string;
  readonly role: Role;
  readonly since: Millis;
  /** null when open-ended */
  readonly expiresAt: Millis | null;
}

export function newTimeline(deviceId: string, ownerId: string, at: Millis): DeviceTimeline {
  const timeline: DeviceTimeline = {
    deviceId,
    registeredAt: at,
    decommissionedAt: null,
    lastChangeAt: at,
    owner: ownerId,
    access: new Map(),
  };
  openInterval(timeline, ownerId, at, Infinity, ROLE_OWNER);
  return timeline;
}

function openInterval(
  timeline: DeviceTimeline,
  userId: string,
  start: Millis,
  end: Millis,
  code: number,
): void {
  const list = timeline.access.get(userId);
  if (list) list.push(start, end, code);
  else timeline.access.set(userId, [start, end, code]);
}

/** Index (into the flat list) of the user's interval of the given role that contains `at`, or -1. */
function containingIndex(list: number[] | undefined, at: Millis, role: number): number {
  if (!list) return -1;
  for (let i = list.length - 3; i >= 0; i -= 3) {
    if ((list[i + 2] & ROLE_OWNER) === role && list[i] <= at && at < list[i + 1]) return i;
  }
  return -1;
}

function closeAt(list: number[], index: number, at: Millis, reasonCode: number): void {
  list[index + 1] = at;
  list[index + 2] = (list[index + 2] & ROLE_OWNER) | reasonCode;
}

export function activeViewerInterval(timeline: DeviceTimeline, userId: string, at: Millis): boolean {
  return containingIndex(timeline.access.get(userId), at, 0) >= 0;
}

export function isOwnerAt(timeline: DeviceTimeline, userId: string, at: Millis): boolean {
  return containingIndex(timeline.access.get(userId), at, ROLE_OWNER) >= 0;
}

/**
 * Applies one ownership change, mutating the timeline. The decider has already checked the rules; this only
 * records their effect, so replaying a stored history never fails.
 */
export function applyDeviceEvent(timeline: DeviceTimeline | null, event: DeviceEvent): DeviceTimeline {
  const at = toMillis(event.data.occurredAt);
  if (event.type === 'DeviceRegistered') {
    return timeline ?? newTimeline(event.data.deviceId, event.data.ownerId, at);
  }
  if (!timeline) throw new Error(`${event.type} for unregistered device ${event.data.deviceId}`);
  timeline.lastChangeAt = Math.max(timeline.lastChangeAt, at);
  switch (event.type) {
    case 'AccessGranted': {
      const end = event.data.expiresAt === undefined ? Infinity : toMillis(event.data.expiresAt);
      const reason = end === Infinity ? OPEN : EXPIRED;
      const list = timeline.access.get(event.data.userId);
      const index = containingIndex(list, at, 0);
      if (list && index >= 0) {
        list[index + 1] = end;
        list[index + 2] = reason;
      } else {
        openInterval(timeline, event.data.userId, at, end, reason);
      }
      return timeline;
    }
    case 'AccessRevoked': {
      const list = timeline.access.get(event.data.userId);
      const index = containingIndex(list, at, 0);
      if (list && index >= 0) closeAt(list, index, at, REVOKED);
      return timeline;
    }
    case 'OwnershipTransferred': {
      const previous = timeline.access.get(event.data.previousOwnerId);
      const ownerIndex = containingIndex(previous, at, ROLE_OWNER);
      if (previous && ownerIndex >= 0) closeAt(previous, ownerIndex, at, TRANSFERRED);
      if (!event.data.keepViewers) {
        endEveryInterval(timeline, at, TRANSFERRED);
      } else {
        // The new owner's share, if any, becomes ownership: one role at a time.
        const incoming = timeline.access.get(event.data.newOwnerId);
        const shareIndex = containingIndex(incoming, at, 0);
        if (incoming && shareIndex >= 0) closeAt(incoming, shareIndex, at, TRANSFERRED);
      }
      openInterval(timeline, event.data.newOwnerId, at, Infinity, ROLE_OWNER);
      timeline.owner = event.data.newOwnerId;
      return timeline;
    }
    case 'DeviceDecommissioned': {
      endEveryInterval(timeline, at, DECOMMISSIONED);
      timeline.decommissionedAt = at;
      timeline.owner = null;
      return timeline;
    }
    default: {
      const unreachable: never = event;
      throw new Error(`unknown device event ${(unreachable as DeviceEvent).type}`);
    }
  }
}

function endEveryInterval(timeline: DeviceTimeline, at: Millis, reasonCode: number): void {
  for (const list of timeline.access.values()) {
    for (let i = 0; i < list.length; i += 3) {
      if (list[i] <= at && at < list[i + 1]) closeAt(list, i, at, reasonCode);
    }
  }
}

/** §2: was `userId` authorized to see the device at business time `at`, and if not, why. */
export function judge(timeline: DeviceTimeline | undefined | null, userId: string, at: Millis): Judgement {
  if (!timeline || timeline.registeredAt > at) return DENIED_UNKNOWN;
  if (timeline.decommissionedAt !== null && timeline.decommissionedAt <= at) return DENIED_DECOMMISSIONED;
  const list = timeline.access.get(userId);
  if (!list) return DENIED_NEVER;
  let viewer = false;
  let latestEnd = -Infinity;
  let latestCode = -1;
  for (let i = 0; i < list.length; i += 3) {
    const start = list[i];
    const end = list[i + 1];
    const code = list[i + 2];
    if (start <= at && at < end) {
      if (code & ROLE_OWNER) return ALLOWED_OWNER;
      viewer = true;
    } else if (end <= at && end >= latestEnd) {
      // Ties go to the later interval in log order: it is the one that ended last.
      latestEnd = end;
      latestCode = code;
    }
  }
  if (viewer) return ALLOWED_VIEWER;
  if (latestCode < 0) return DENIED_NEVER;
  return DENIALS[REASON_BY_CODE[latestCode & ~ROLE_OWNER]];
}

const ALLOWED_OWNER: Judgement = Object.freeze({ allowed: true, role: 'owner' });
const ALLOWED_VIEWER: Judgement = Object.freeze({ allowed: true, role: 'viewer' });
const DENIALS = Object.freeze(
  Object.fromEntries(
    (['unknown_device', 'decommissioned', 'revoked', 'expired', 'transferred', 'never_granted'] as const).map(
      (reason) => [reason, Object.freeze({ allowed: false, reason }) as Judgement],
    ),
  ),
) as Record<DenialReason, Judgement>;
const DENIED_UNKNOWN = DENIALS.unknown_device;
const DENIED_DECOMMISSIONED = DENIALS.decommissioned;
const DENIED_NEVER = DENIALS.never_granted;

/** Who has access at `at`: the owner first, then viewers by user id. */
export function accessAt(timeline: DeviceTimeline, at: Millis): ActiveAccess[] {
  const result: ActiveAccess[] = [];
  if (timeline.registeredAt > at) return result;
  for (const [userId, list] of timeline.access) {
    for (let i = 0; i < list.length; i += 3) {
      if (list[i] <= at && at < list[i + 1]) {
        const owner = (list[i + 2] & ROLE_OWNER) === ROLE_OWNER;
        result.push({
          userId,
          role: owner ? 'owner' : 'viewer',
          since: list[i],
          expiresAt: expiryOf(list, i),
        });
      }
    }
  }
  return result.sort((a, b) =>
    a.role !== b.role
      ? a.role === 'owner'
        ? -1
        : 1
      : a.userId < b.userId
        ? -1
        : a.userId > b.userId
          ? 1
          : 0,
  );
}

/** The user's access to this device at `at`, if any (owner wins over viewer). */
export function userAccessAt(timeline: DeviceTimeline, userId: string, at: Millis): ActiveAccess | null {
  const list = timeline.access.get(userId);
  if (!list || timeline.registeredAt > at) return null;
  let found: ActiveAccess | null = null;
  for (let i = 0; i < list.length; i += 3) {
    if (list[i] <= at && at < list[i + 1]) {
      const owner = (list[i + 2] & ROLE_OWNER) === ROLE_OWNER;
      found = { userId, role: owner ? 'owner' : 'viewer', since: list[i], expiresAt: expiryOf(list, i) };
      if (owner) return found;
    }
  }
  return found;
}

/** An interval's end is an expiry only when an expiry is what ends it (not a later revoke or transfer). */
function expiryOf(list: number[], index: number): Millis | null {
  return (list[index + 2] & ~ROLE_OWNER) === EXPIRED ? list[index + 1] : null;
}

/** Owner at business time `at` (the one whose owner interval contains it), or null. */
export function ownerAt(timeline: DeviceTimeline | undefined | null, at: Millis): string | null {
  if (!timeline || timeline.registeredAt > at) return null;
  for (const [userId, list] of timeline.access) {
    for (let i = 0; i < list.length; i += 3) {
      if ((list[i + 2] & ROLE_OWNER) === ROLE_OWNER && list[i] <= at && at < list[i + 1]) return userId;
    }
  }
  return null;
}

/** The intervals in which `userId` owned the device: used for "who saw my camera" trails. */
export function ownershipIntervals(timeline: DeviceTimeline, userId: string): Array<[Millis, Millis]> {
  const list = timeline.access.get(userId);
  const result: Array<[Millis, Millis]> = [];
  if (!list) return result;
  for (let i = 0; i < list.length; i += 3) {
    if ((list[i + 2] & ROLE_OWNER) === ROLE_OWNER) result.push([list[i], list[i + 1]]);
  }
  return result;
}

/** Every interval, for digests and snapshots: `[userId, start, end, code]` in a stable order. */
export function timelineEntries(timeline: DeviceTimeline): Array<[string, number[]]> {
  return [...timeline.access.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function restoreTimeline(snapshot: {
  deviceId: string;
  registeredAt: Millis;
  decommissionedAt: Millis | null;
  lastChangeAt: Millis;
  owner: string | null;
  access: Array<[string, number[]]>;
}): DeviceTimeline {
  return { ...snapshot, access: new Map(snapshot.access.map(([u, l]) => [u, l.slice()])) };
}

export function cloneTimeline(timeline: DeviceTimeline): DeviceTimeline {
  return {
    ...timeline,
    access: new Map([...timeline.access].map(([userId, list]) => [userId, list.slice()])),
  };
}

// Stored times were normalized on the way in, so the fast parser is exact here.
function toMillis(time: string): Millis {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) throw new Error(`stored time is not RFC 3339: ${time}`);
  return ms;
}

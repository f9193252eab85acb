import type { DeviceEvent } from './events';
import type { DenialReason, Role } from './ids';
import type { Millis } from './time';

/**
 * The one implementation of contract §2. A device's timeline holds, per user, the half-open intervals
 * `[start, end)` of business time in which the user had access. Projections, historical checks, replay and
 * the decider all read it, so "authorized" has exactly one meaning.
 *
 * A timeline is packed into one flat array of doubles, the leanest thing V8 offers (the projection holds one
 * per device for a whole fleet): a header `[registeredAt, decommissionedAt, lastChangeAt, owner]` and then one
 * span `[user, start, end, code]` per interval, in the order they were opened. Users are small integer keys;
 * who a key stands for is a {@link UserKeys} table kept beside the array — the projection interns every user
 * once for the whole fleet, a lone {@link DeviceTimeline} keeps its own list.
 * `end` is `Infinity` while open; an expiring grant stores its `expiresAt` as a provisional end with reason
 * `expired`, which a re-grant before that instant replaces — so an expiry takes effect with no event at all.
 * `decommissionedAt` is NaN while the device is in service; `owner` is -1 once decommissioned.
 */
export type PackedTimeline = number[];

/** A packed timeline only read: a table's array, or the doubles of a snapshot not yet changed since loading. */
export type PackedTimelineView = ArrayLike<number>;

/** Maps user ids to the integer keys packed timelines hold, and back. */
export interface UserKeys {
  /** The user's key, or -1 if the user has none. */
  keyOf(userId: string): number;
  /** The user's key, given one if the user has none yet. */
  keyFor(userId: string): number;
  idOf(key: number): string;
}

const REGISTERED_AT = 0;
const DECOMMISSIONED_AT = 1;
const LAST_CHANGE_AT = 2;
const OWNER = 3;
const HEADER = 4;
const SPAN = 4;
/** Below this length an append copies to an array of the exact size: most devices stop growing early. */
const EXACT_SIZE_BELOW = 64;

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

/** Local user tables longer than this get a Map beside them, so a device shared with thousands stays O(1). */
const LOCAL_INDEX_FROM = 32;
const localIndexes = new WeakMap<string[], Map<string, number>>();

/**
 * One device's timeline with its own user table: the decider's state and what replay folds. Its fields are
 * read through getters over the packed array, so a copy is two array slices.
 */
export class DeviceTimeline implements UserKeys {
  constructor(
    readonly deviceId: string,
    readonly users: string[],
    public packed: PackedTimeline,
  ) {}

  get registeredAt(): Millis {
    return this.packed[REGISTERED_AT];
  }

  get decommissionedAt(): Millis | null {
    return packedDecommissionedAt(this.packed);
  }

  /** Business time of the latest ownership change: changes dated before it are refused. */
  get lastChangeAt(): Millis {
    return this.packed[LAST_CHANGE_AT];
  }

  /** Current owner; null once decommissioned. */
  get owner(): string | null {
    const key = this.packed[OWNER];
    return key < 0 ? null : this.users[key];
  }

  /** Every user's intervals as flat `[start, end, code]` triples, users in the order they first had access. */
  get access(): Map<string, number[]> {
    return new Map(groupSpans(this.packed).map(([key, list]) => [this.users[key], list]));
  }

  keyOf(userId: string): number {
    const users = this.users;
    if (users.length < LOCAL_INDEX_FROM) return users.indexOf(userId);
    let index = localIndexes.get(users);
    if (!index) {
      index = new Map(users.map((user, key) => [user, key]));
      localIndexes.set(users, index);
    }
    return index.get(userId) ?? -1;
  }

  keyFor(userId: string): number {
    let key = this.keyOf(userId);
    if (key < 0) {
      key = this.users.push(userId) - 1;
      localIndexes.get(this.users)?.set(userId, key);
    }
    return key;
  }

  idOf(key: number): string {
    return this.users[key];
  }
}

/** A registered device's packed timeline: its owner holds the one open owner interval. */
export function newPackedTimeline(ownerKey: number, at: Millis): PackedTimeline {
  return [at, NaN, at, ownerKey, ownerKey, at, Infinity, ROLE_OWNER];
}

export function newTimeline(deviceId: string, ownerId: string, at: Millis): DeviceTimeline {
  return new DeviceTimeline(deviceId, [ownerId], newPackedTimeline(0, at));
}

function appendSpan(
  p: PackedTimeline,
  key: number,
  start: Millis,
  end: Millis,
  code: number,
): PackedTimeline {
  if (p.length >= EXACT_SIZE_BELOW) {
    p.push(key, start, end, code);
    return p;
  }
  return p.concat([key, start, end, code]);
}

/** Index of the user's latest span of the given role that contains `at`, or -1. */
function containingIndex(p: PackedTimelineView, key: number, at: Millis, role: number): number {
  if (key < 0) return -1;
  for (let i = p.length - SPAN; i >= HEADER; i -= SPAN) {
    if (p[i] === key && (p[i + 3] & ROLE_OWNER) === role && p[i + 1] <= at && at < p[i + 2]) return i;
  }
  return -1;
}

function closeAt(p: PackedTimeline, index: number, at: Millis, reasonCode: number): void {
  p[index + 2] = at;
  p[index + 3] = (p[index + 3] & ROLE_OWNER) | reasonCode;
}

function endEveryInterval(p: PackedTimeline, at: Millis, reasonCode: number): void {
  for (let i = HEADER; i < p.length; i += SPAN) {
    if (p[i + 1] <= at && at < p[i + 2]) closeAt(p, i, at, reasonCode);
  }
}

function packedDecommissionedAt(p: PackedTimelineView): Millis | null {
  const at = p[DECOMMISSIONED_AT];
  return Number.isNaN(at) ? null : at;
}

/** The kinds of ownership change that alter a registered device's timeline. */
export const PackedChangeKind = {
  Granted: 1,
  Revoked: 2,
  Transferred: 3,
  Decommissioned: 4,
} as const;
export type PackedChangeKind = (typeof PackedChangeKind)[keyof typeof PackedChangeKind];

/**
 * One ownership change with its users already keyed and its times as epoch ms: what {@link applyPackedChange}
 * reads. A reader that keeps the log in columns (the replay's views projection) fills one of these per change
 * without building a `DeviceEvent` or parsing a time again.
 */
export interface PackedChange {
  kind: PackedChangeKind;
  /** Business time of the change. */
  at: Millis;
  /** Granted, revoked: the user's key (-1 when a revoked user has none); transferred: the new owner's key. */
  user: number;
  /** Transferred: the previous owner's key, or -1. */
  previousOwner: number;
  /** Granted: the expiry, Infinity when open-ended. */
  expiresAt: Millis;
  /** Transferred: whether the viewers keep their access. */
  keepViewers: boolean;
}

/**
 * §2's effect of one ownership change on a registered device's packed timeline, returned (a new array when it
 * had to grow). The decider has already checked the rules; this only records their effect, so replaying a
 * stored history never fails. Every path that folds ownership changes ends here.
 */
export function applyPackedChange(p: PackedTimeline, change: PackedChange): PackedTimeline {
  const at = change.at;
  p[LAST_CHANGE_AT] = Math.max(p[LAST_CHANGE_AT], at);
  switch (change.kind) {
    case PackedChangeKind.Granted: {
      const end = change.expiresAt;
      const reason = end === Infinity ? OPEN : EXPIRED;
      const index = containingIndex(p, change.user, at, 0);
      if (index < 0) return appendSpan(p, change.user, at, end, reason);
      p[index + 2] = end;
      p[index + 3] = reason;
      return p;
    }
    case PackedChangeKind.Revoked: {
      const index = containingIndex(p, change.user, at, 0);
      if (index >= 0) closeAt(p, index, at, REVOKED);
      return p;
    }
    case PackedChangeKind.Transferred: {
      const ownerIndex = containingIndex(p, change.previousOwner, at, ROLE_OWNER);
      if (ownerIndex >= 0) closeAt(p, ownerIndex, at, TRANSFERRED);
      const newOwner = change.user;
      if (!change.keepViewers) {
        endEveryInterval(p, at, TRANSFERRED);
      } else {
        // The new owner's share, if any, becomes ownership: one role at a time.
        const shareIndex = containingIndex(p, newOwner, at, 0);
        if (shareIndex >= 0) closeAt(p, shareIndex, at, TRANSFERRED);
      }
      const next = appendSpan(p, newOwner, at, Infinity, ROLE_OWNER);
      next[OWNER] = newOwner;
      return next;
    }
    case PackedChangeKind.Decommissioned: {
      endEveryInterval(p, at, DECOMMISSIONED);
      p[DECOMMISSIONED_AT] = at;
      p[OWNER] = -1;
      return p;
    }
    default: {
      const unreachable: never = change.kind;
      throw new Error(`unknown ownership change ${String(unreachable)}`);
    }
  }
}

/** The packed form of a stored ownership change other than a registration, its users keyed by `users`. */
export function toPackedChange(
  event: Exclude<DeviceEvent, { type: 'DeviceRegistered' }>,
  users: UserKeys,
): PackedChange {
  const at = toMillis(event.data.occurredAt);
  switch (event.type) {
    case 'AccessGranted':
      return {
        kind: PackedChangeKind.Granted,
        at,
        user: users.keyFor(event.data.userId),
        previousOwner: -1,
        expiresAt: event.data.expiresAt === undefined ? Infinity : toMillis(event.data.expiresAt),
        keepViewers: false,
      };
    case 'AccessRevoked':
      return {
        kind: PackedChangeKind.Revoked,
        at,
        user: users.keyOf(event.data.userId),
        previousOwner: -1,
        expiresAt: Infinity,
        keepViewers: false,
      };
    case 'OwnershipTransferred': {
      // The previous owner is looked up before the new one is keyed, as a local user table needs.
      const previousOwner = users.keyOf(event.data.previousOwnerId);
      return {
        kind: PackedChangeKind.Transferred,
        at,
        user: users.keyFor(event.data.newOwnerId),
        previousOwner,
        expiresAt: Infinity,
        keepViewers: Boolean(event.data.keepViewers),
      };
    }
    case 'DeviceDecommissioned':
      return {
        kind: PackedChangeKind.Decommissioned,
        at,
        user: -1,
        previousOwner: -1,
        expiresAt: Infinity,
        keepViewers: false,
      };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown device event ${(unreachable as DeviceEvent).type}`);
    }
  }
}

/**
 * Applies one ownership change to a registered device's packed timeline and returns it (a new array when it
 * had to grow). A `DeviceRegistered` for a registered device changes nothing.
 */
export function applyToPacked(p: PackedTimeline, event: DeviceEvent, users: UserKeys): PackedTimeline {
  if (event.type === 'DeviceRegistered') return p;
  return applyPackedChange(p, toPackedChange(event, users));
}

/**
 * Applies one ownership change, mutating the timeline. The decider has already checked the rules; this only
 * records their effect, so replaying a stored history never fails.
 */
export function applyDeviceEvent(timeline: DeviceTimeline | null, event: DeviceEvent): DeviceTimeline {
  if (event.type === 'DeviceRegistered') {
    return timeline ?? newTimeline(event.data.deviceId, event.data.ownerId, toMillis(event.data.occurredAt));
  }
  if (!timeline) throw new Error(`${event.type} for unregistered device ${event.data.deviceId}`);
  timeline.packed = applyToPacked(timeline.packed, event, timeline);
  return timeline;
}

/** §2 over a packed timeline: was the user with this key authorized at business time `at`, and if not, why. */
export function judgePacked(p: PackedTimelineView | undefined | null, key: number, at: Millis): Judgement {
  if (!p || p[REGISTERED_AT] > at) return DENIED_UNKNOWN;
  // NaN (in service) compares false.
  if (p[DECOMMISSIONED_AT] <= at) return DENIED_DECOMMISSIONED;
  if (key < 0) return DENIED_NEVER;
  let viewer = false;
  let latestEnd = -Infinity;
  let latestCode = -1;
  for (let i = HEADER; i < p.length; i += SPAN) {
    if (p[i] !== key) continue;
    const start = p[i + 1];
    const end = p[i + 2];
    const code = p[i + 3];
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

/** §2: was `userId` authorized to see the device at business time `at`, and if not, why. */
export function judge(timeline: DeviceTimeline | undefined | null, userId: string, at: Millis): Judgement {
  if (!timeline) return DENIED_UNKNOWN;
  return judgePacked(timeline.packed, timeline.keyOf(userId), at);
}

export function activeViewerInterval(timeline: DeviceTimeline, userId: string, at: Millis): boolean {
  return containingIndex(timeline.packed, timeline.keyOf(userId), at, 0) >= 0;
}

export function isOwnerAt(timeline: DeviceTimeline, userId: string, at: Millis): boolean {
  return containingIndex(timeline.packed, timeline.keyOf(userId), at, ROLE_OWNER) >= 0;
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

function activeAt(p: PackedTimelineView, index: number, userId: string): ActiveAccess {
  const owner = (p[index + 3] & ROLE_OWNER) === ROLE_OWNER;
  return {
    userId,
    role: owner ? 'owner' : 'viewer',
    since: p[index + 1],
    // An interval's end is an expiry only when an expiry is what ends it (not a later revoke or transfer).
    expiresAt: (p[index + 3] & ~ROLE_OWNER) === EXPIRED ? p[index + 2] : null,
  };
}

/** Who has access at `at`: the owner first, then viewers by user id. */
export function accessAtPacked(p: PackedTimelineView, at: Millis, users: UserKeys): ActiveAccess[] {
  const result: ActiveAccess[] = [];
  if (p[REGISTERED_AT] > at) return result;
  for (let i = HEADER; i < p.length; i += SPAN) {
    if (p[i + 1] <= at && at < p[i + 2]) result.push(activeAt(p, i, users.idOf(p[i])));
  }
  // Stable: one user's intervals keep their log order.
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

export function accessAt(timeline: DeviceTimeline, at: Millis): ActiveAccess[] {
  return accessAtPacked(timeline.packed, at, timeline);
}

/** The user's access to this device at `at`, if any (owner wins over viewer). */
export function userAccessAtPacked(
  p: PackedTimelineView,
  key: number,
  userId: string,
  at: Millis,
): ActiveAccess | null {
  if (key < 0 || p[REGISTERED_AT] > at) return null;
  let found: ActiveAccess | null = null;
  for (let i = HEADER; i < p.length; i += SPAN) {
    if (p[i] === key && p[i + 1] <= at && at < p[i + 2]) {
      found = activeAt(p, i, userId);
      if (found.role === 'owner') return found;
    }
  }
  return found;
}

export function userAccessAt(timeline: DeviceTimeline, userId: string, at: Millis): ActiveAccess | null {
  return userAccessAtPacked(timeline.packed, timeline.keyOf(userId), userId, at);
}

/**
 * Key of the owner at business time `at` (the one whose owner interval contains it), or -1. Should two owner
 * intervals contain it, the user who first had access to the device wins.
 */
export function ownerAtPacked(p: PackedTimelineView | undefined | null, at: Millis): number {
  if (!p || p[REGISTERED_AT] > at) return -1;
  let owner = -1;
  for (let i = HEADER; i < p.length; i += SPAN) {
    if ((p[i + 3] & ROLE_OWNER) === ROLE_OWNER && p[i + 1] <= at && at < p[i + 2]) {
      if (owner < 0) owner = p[i];
      else if (owner !== p[i] && firstSpanOf(p, p[i]) < firstSpanOf(p, owner)) owner = p[i];
    }
  }
  return owner;
}

function firstSpanOf(p: PackedTimelineView, key: number): number {
  for (let i = HEADER; i < p.length; i += SPAN) if (p[i] === key) return i;
  return -1;
}

/** Owner at business time `at` (the one whose owner interval contains it), or null. */
export function ownerAt(timeline: DeviceTimeline | undefined | null, at: Millis): string | null {
  if (!timeline) return null;
  const key = ownerAtPacked(timeline.packed, at);
  return key < 0 ? null : timeline.users[key];
}

/** The intervals in which `userId` owned the device: used for "who saw my camera" trails. */
export function ownershipIntervals(timeline: DeviceTimeline, userId: string): Array<[Millis, Millis]> {
  const p = timeline.packed;
  const key = timeline.keyOf(userId);
  const result: Array<[Millis, Millis]> = [];
  if (key < 0) return result;
  for (let i = HEADER; i < p.length; i += SPAN) {
    if (p[i] === key && (p[i + 3] & ROLE_OWNER) === ROLE_OWNER) result.push([p[i + 1], p[i + 2]]);
  }
  return result;
}

/** Keys of every user who ever had access, in the order they first did. */
export function packedUserKeys(p: PackedTimelineView): number[] {
  if (p.length > HEADER + SPAN * LOCAL_INDEX_FROM) {
    // A device shared with thousands: a scan per span would be quadratic (a snapshot restores every device).
    const seen = new Set<number>();
    for (let i = HEADER; i < p.length; i += SPAN) seen.add(p[i]);
    return [...seen];
  }
  const keys: number[] = [];
  for (let i = HEADER; i < p.length; i += SPAN) if (!keys.includes(p[i])) keys.push(p[i]);
  return keys;
}

/** Whether the user with this key ever had access. */
export function packedHasUser(p: PackedTimelineView, key: number): boolean {
  return key >= 0 && firstSpanOf(p, key) >= 0;
}

/** Each user's `[start, end, code]` triples, users in the order they first had access. */
function groupSpans(p: PackedTimelineView): Array<[number, number[]]> {
  const groups = new Map<number, number[]>();
  for (let i = HEADER; i < p.length; i += SPAN) {
    const list = groups.get(p[i]);
    if (list) list.push(p[i + 1], p[i + 2], p[i + 3]);
    else groups.set(p[i], [p[i + 1], p[i + 2], p[i + 3]]);
  }
  return [...groups];
}

/** The canonical form digests and snapshots are over: each user's triples, users in id order. */
export function packedEntries(p: PackedTimelineView, users: UserKeys): Array<[string, number[]]> {
  return groupSpans(p)
    .map(([key, list]): [string, number[]] => [users.idOf(key), list])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every interval, for digests and snapshots: `[userId, [start, end, code, …]]` in user id order. */
export function timelineEntries(timeline: DeviceTimeline): Array<[string, number[]]> {
  return packedEntries(timeline.packed, timeline);
}

export interface TimelineSnapshot {
  deviceId: string;
  registeredAt: Millis;
  decommissionedAt: Millis | null;
  lastChangeAt: Millis;
  owner: string | null;
  access: Array<[string, number[]]>;
}

/** Packs a timeline from its canonical form, users keyed by `users`; the array is exactly its size. */
export function packTimeline(snapshot: TimelineSnapshot, users: UserKeys): PackedTimeline {
  const p: PackedTimeline = [
    snapshot.registeredAt,
    snapshot.decommissionedAt ?? NaN,
    snapshot.lastChangeAt,
    snapshot.owner === null ? -1 : users.keyFor(snapshot.owner),
  ];
  for (const [userId, list] of snapshot.access) {
    // A list that is not whole triples was not written by a table: refuse it rather than read part of it.
    if (list.length === 0 || list.length % 3 !== 0) {
      throw new Error(`device ${snapshot.deviceId}: intervals of ${userId} are not [start, end, code] triples`);
    }
    const key = users.keyFor(userId);
    for (let i = 0; i < list.length; i += 3) p.push(key, list[i], list[i + 1], list[i + 2]);
  }
  return p.slice();
}

export function restoreTimeline(snapshot: TimelineSnapshot): DeviceTimeline {
  const timeline = new DeviceTimeline(snapshot.deviceId, [], []);
  timeline.packed = packTimeline(snapshot, timeline);
  return timeline;
}

/** A standalone timeline from a packed one keyed by a shared table (a copy: changing it changes nothing). */
export function unpackTimeline(deviceId: string, p: PackedTimelineView, users: UserKeys): DeviceTimeline {
  const local = new DeviceTimeline(deviceId, [], Array.from(p));
  const remap = new Map<number, number>();
  const localKey = (key: number) => {
    let mapped = remap.get(key);
    if (mapped === undefined) remap.set(key, (mapped = local.keyFor(users.idOf(key))));
    return mapped;
  };
  if (p[OWNER] >= 0) local.packed[OWNER] = localKey(p[OWNER]);
  for (let i = HEADER; i < p.length; i += SPAN) local.packed[i] = localKey(p[i]);
  return local;
}

export function cloneTimeline(timeline: DeviceTimeline): DeviceTimeline {
  return new DeviceTimeline(timeline.deviceId, timeline.users.slice(), timeline.packed.slice());
}

// Stored times were normalized on the way in, so the fast parser is exact here.
function toMillis(time: string): Millis {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) throw new Error(`stored time is not RFC 3339: ${time}`);
  return ms;
}

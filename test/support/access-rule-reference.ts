/**
 * A deliberately naive reference model of contract §2, written from the contract text alone and used only by
 * tests. It shares no code with `libs/domain`: it keeps explicit interval objects per user, applies expiries
 * lazily (an expiry closes an interval when time reaches it, before the next change is applied), and answers
 * every question by scanning all intervals.
 *
 * Contract §2, as modelled here:
 * - registering a device, or transferring it, starts the new owner's interval;
 * - a grant starts a viewer's interval; `expiresAt` ends it at that instant; granting a current viewer again
 *   replaces its expiry (set, changed or removed) and keeps the interval unbroken;
 * - a revoke ends that user's interval; a transfer ends the old owner's interval and, unless keepViewers,
 *   every viewer's; decommissioning ends every interval and the device accepts no further change;
 * - authorized at t iff t lies in one of the user's half-open intervals [start, end);
 * - reasons, first that applies: unknown_device (no registration at or before t), decommissioned (at or
 *   before t), what ended the user's latest interval that ended at or before t, never_granted.
 * Rule checks (§2/§3): changes dated before the device's previous change, granting or revoking the owner,
 * revoking a user with no active access, changing a decommissioned device, registering twice, an expiry not
 * later than the grant, and a business time more than 5 minutes ahead of the ledger's clock are refused.
 *
 * Design choices the contract leaves open, taken as a user would expect: a user holds one role at a time, so
 * a viewer who becomes owner (keepViewers) has their share merged into ownership (their viewer interval ends
 * where the ownership starts — unobservable by `judge`, visible only in listings as "owner, not both").
 */

export type RefReason =
  'unknown_device' | 'decommissioned' | 'revoked' | 'expired' | 'transferred' | 'never_granted';
export type RefRole = 'owner' | 'viewer';
export type RefJudgement = { allowed: true; role: RefRole } | { allowed: false; reason: RefReason };
export interface RefAccess {
  userId: string;
  role: RefRole;
  since: number;
  expiresAt: number | null;
}

/** The rule a refused command broke, named after the domain error the ledger is expected to throw. */
export type RefRefusal =
  | 'InvalidInputError'
  | 'DeviceAlreadyRegisteredError'
  | 'DeviceNotFoundError'
  | 'DeviceDecommissionedError'
  | 'OutOfOrderChangeError'
  | 'OwnerAccessChangeError'
  | 'NoActiveAccessError'
  | 'AlreadyOwnerError';

export type RefCommand =
  | { kind: 'register'; at: number; recordedAt: number; ownerId: string }
  | { kind: 'grant'; at: number; recordedAt: number; userId: string; expiresAt?: number }
  | { kind: 'revoke'; at: number; recordedAt: number; userId: string }
  | { kind: 'transfer'; at: number; recordedAt: number; newOwnerId: string; keepViewers: boolean }
  | { kind: 'decommission'; at: number; recordedAt: number };

interface Interval {
  readonly userId: string;
  readonly role: RefRole;
  readonly start: number;
  /** Infinity while open. */
  end: number;
  /** What ended it; null while open. */
  endedBy: 'revoked' | 'expired' | 'transferred' | 'decommissioned' | null;
  /** Pending expiry of an open viewer interval. */
  expiresAt: number | null;
  /** Order in which intervals were closed: among equal ends, the one closed later ended last. */
  closedSeq: number;
}

const FIVE_MINUTES = 5 * 60 * 1000;

export class AccessReference {
  registeredAt: number | null = null;
  decommissionedAt: number | null = null;
  owner: string | null = null;
  private lastChangeAt = -Infinity;
  private readonly intervals: Interval[] = [];
  private closedCount = 0;
  private settledCache: Interval[] | null = null;

  /** Which rule (if any) refuses the command, in the order the ledger checks them. */
  refusal(command: RefCommand): RefRefusal | null {
    if (command.at > command.recordedAt + FIVE_MINUTES) return 'InvalidInputError';
    if (command.kind === 'register')
      return this.registeredAt === null ? null : 'DeviceAlreadyRegisteredError';
    if (this.registeredAt === null) return 'DeviceNotFoundError';
    if (this.decommissionedAt !== null) return 'DeviceDecommissionedError';
    if (command.at < this.lastChangeAt) return 'OutOfOrderChangeError';
    switch (command.kind) {
      case 'grant':
        if (command.expiresAt !== undefined && command.expiresAt <= command.at) return 'InvalidInputError';
        return command.userId === this.owner ? 'OwnerAccessChangeError' : null;
      case 'revoke':
        if (command.userId === this.owner) return 'OwnerAccessChangeError';
        return this.openViewerAt(command.userId, command.at) ? null : 'NoActiveAccessError';
      case 'transfer':
        return command.newOwnerId === this.owner ? 'AlreadyOwnerError' : null;
      case 'decommission':
        return null;
    }
  }

  /** Applies an accepted command (the caller checked `refusal` first). */
  apply(command: RefCommand): void {
    const t = command.at;
    this.settledCache = null;
    this.expireUpTo(t);
    this.lastChangeAt = t;
    switch (command.kind) {
      case 'register':
        this.registeredAt = t;
        this.owner = command.ownerId;
        this.open(command.ownerId, 'owner', t, null);
        return;
      case 'grant': {
        const current = this.openViewerAt(command.userId, t);
        if (current) current.expiresAt = command.expiresAt ?? null;
        else this.open(command.userId, 'viewer', t, command.expiresAt ?? null);
        return;
      }
      case 'revoke':
        this.close(this.openViewerAt(command.userId, t)!, t, 'revoked');
        return;
      case 'transfer': {
        for (const interval of this.openIntervals()) {
          const isOldOwner = interval.role === 'owner';
          const isViewer = interval.role === 'viewer';
          const mergesIntoOwnership = isViewer && interval.userId === command.newOwnerId;
          if (isOldOwner || (isViewer && !command.keepViewers) || mergesIntoOwnership) {
            this.close(interval, t, 'transferred');
          }
        }
        this.owner = command.newOwnerId;
        this.open(command.newOwnerId, 'owner', t, null);
        return;
      }
      case 'decommission':
        for (const interval of this.openIntervals()) this.close(interval, t, 'decommissioned');
        this.decommissionedAt = t;
        this.owner = null;
        return;
    }
  }

  /** §2 at business time t, over the whole known history. */
  judge(userId: string, t: number): RefJudgement {
    if (this.registeredAt === null || this.registeredAt > t)
      return { allowed: false, reason: 'unknown_device' };
    if (this.decommissionedAt !== null && this.decommissionedAt <= t) {
      return { allowed: false, reason: 'decommissioned' };
    }
    const mine = this.settled().filter((i) => i.userId === userId);
    const inside = mine.filter((i) => i.start <= t && t < i.end);
    if (inside.some((i) => i.role === 'owner')) return { allowed: true, role: 'owner' };
    if (inside.length > 0) return { allowed: true, role: 'viewer' };
    const ended = mine
      .filter((i) => i.end <= t)
      .sort((a, b) => (a.end !== b.end ? a.end - b.end : a.closedSeq - b.closedSeq));
    const latest = ended[ended.length - 1];
    if (latest) return { allowed: false, reason: latest.endedBy! };
    return { allowed: false, reason: 'never_granted' };
  }

  /** Who has access at t: the owner first, then viewers by user id. */
  accessAt(t: number): RefAccess[] {
    if (this.registeredAt === null || this.registeredAt > t) return [];
    return this.settled()
      .filter((i) => i.start <= t && t < i.end)
      .map((i) => ({
        userId: i.userId,
        role: i.role,
        since: i.start,
        expiresAt: i.endedBy === 'expired' ? i.end : null,
      }))
      .sort((a, b) =>
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

  userAccessAt(userId: string, t: number): RefAccess | null {
    return this.accessAt(t).find((a) => a.userId === userId) ?? null;
  }

  /** Every instant at which something starts or ends: where the rule's edges are. */
  edges(): number[] {
    const times = new Set<number>();
    for (const i of this.settled()) {
      times.add(i.start);
      if (Number.isFinite(i.end)) times.add(i.end);
    }
    if (this.registeredAt !== null) times.add(this.registeredAt);
    if (this.decommissionedAt !== null) times.add(this.decommissionedAt);
    return [...times];
  }

  private open(userId: string, role: RefRole, start: number, expiresAt: number | null): void {
    this.intervals.push({ userId, role, start, end: Infinity, endedBy: null, expiresAt, closedSeq: -1 });
  }

  private close(interval: Interval, at: number, by: NonNullable<Interval['endedBy']>): void {
    interval.end = at;
    interval.endedBy = by;
    interval.expiresAt = null;
    interval.closedSeq = this.closedCount++;
  }

  private openIntervals(): Interval[] {
    return this.intervals.filter((i) => i.endedBy === null);
  }

  /** The user's open share at t, if its expiry (if any) is still ahead of t. */
  private openViewerAt(userId: string, t: number): Interval | undefined {
    return this.intervals.find(
      (i) =>
        i.userId === userId &&
        i.role === 'viewer' &&
        i.endedBy === null &&
        i.start <= t &&
        (i.expiresAt === null || t < i.expiresAt),
    );
  }

  /** Time has reached t: every share whose expiry is at or before t has ended, in expiry order. */
  private expireUpTo(t: number): void {
    const due = this.openIntervals()
      .filter((i) => i.expiresAt !== null && i.expiresAt <= t)
      .sort((a, b) => a.expiresAt! - b.expiresAt!);
    for (const interval of due) this.close(interval, interval.expiresAt!, 'expired');
  }

  /**
   * The intervals as they stand if no further change comes: pending expiries end their intervals (after
   * everything already closed, in expiry order). Copies; the model itself is not touched.
   */
  private settled(): Interval[] {
    if (this.settledCache) return this.settledCache;
    const pending = this.intervals
      .filter((i) => i.endedBy === null && i.expiresAt !== null)
      .sort((a, b) => a.expiresAt! - b.expiresAt!);
    return this.intervals.map((i) => {
      const rank = pending.indexOf(i);
      if (rank < 0) return { ...i };
      return {
        ...i,
        end: i.expiresAt!,
        endedBy: 'expired',
        expiresAt: null,
        closedSeq: this.closedCount + rank,
      };
    });
  }
}

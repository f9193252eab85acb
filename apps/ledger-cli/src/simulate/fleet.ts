import type { DenialReason, Millis } from '@ledger/domain';
import type { Random } from './random';

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

/** What ended a user's access before the storm (decommissioned devices stay offline, so never judged). */
export type EndReason = Extract<DenialReason, 'revoked' | 'expired' | 'transferred'>;

/** One ownership change, as the simulator sends it to the ledger. Times are business times (epoch ms). */
export type FleetChange =
  | { readonly op: 'register'; readonly ownerId: string; readonly at: Millis }
  | { readonly op: 'grant'; readonly userId: string; readonly at: Millis; readonly expiresAt?: Millis }
  | { readonly op: 'revoke'; readonly userId: string; readonly at: Millis }
  | {
      readonly op: 'transfer';
      readonly newOwnerId: string;
      readonly keepViewers: boolean;
      readonly at: Millis;
    }
  | { readonly op: 'decommission'; readonly at: Millis };

/**
 * A device and the simulator's own ground truth about it, kept independently of the ledger: who may see it
 * when the storm hits and, for everyone who lost access, what ended it.
 */
export interface FleetDevice {
  readonly deviceId: string;
  /** In business-time order, as the ledger requires of one device's changes. */
  readonly changes: readonly FleetChange[];
  /** Owner at storm time; null once decommissioned. */
  readonly owner: string | null;
  /** Decommissioned devices stay offline during the storm. */
  readonly online: boolean;
  /** Owner and active viewers at storm time: exactly the users the device's media may go to. */
  readonly authorized: ReadonlySet<string>;
  /** Users who had access and lost it, with what ended their latest interval. */
  readonly ended: ReadonlyMap<string, EndReason>;
}

/** What the storm needs of a device: who may see it at storm time, and why the others may not. */
export type StormDevice = Omit<FleetDevice, 'changes'>;

export interface FleetPlan {
  readonly users: readonly string[];
  readonly devices: readonly FleetDevice[];
  readonly counts: {
    readonly ownershipChanges: number;
    readonly grants: number;
    readonly revokes: number;
    readonly expired: number;
    readonly transfers: number;
    readonly decommissioned: number;
  };
}

export interface FleetOptions {
  readonly devices: number;
  readonly users: number;
  /** Storm time: every change is dated before it, every expiry either before it or well after. */
  readonly now: Millis;
  /** Prefix that keeps ids of different runs apart in a reused data dir. */
  readonly idPrefix?: string;
}

/** What becomes of one viewer's grant. */
type GrantFate =
  'plain' | 'expires-before-storm' | 'expires-after-storm' | 'revoked' | 'revoked-then-regranted';

function grantFate(random: Random): GrantFate {
  const roll = random.next();
  if (roll < 0.05) return 'expires-before-storm';
  if (roll < 0.1) return 'expires-after-storm';
  if (roll < 0.18) return 'revoked';
  if (roll < 0.2) return 'revoked-then-regranted';
  return 'plain';
}

export type FleetCounts = { -readonly [K in keyof FleetPlan['counts']]: number };

/** The fleet's user ids, in index order. */
export function fleetUsers(options: FleetOptions): string[] {
  const prefix = options.idPrefix ?? '';
  const width = idWidth(options);
  return Array.from({ length: options.users }, (_, i) => `${prefix}u-${String(i).padStart(width, '0')}`);
}

function idWidth(options: FleetOptions): number {
  return Math.max(6, String(Math.max(options.devices, options.users)).length);
}

/**
 * A camera fleet: owners with one to four cameras each, a household of zero to three other users the owner
 * shares every camera with, and a history a month long in which some shares are revoked (a few re-granted),
 * some expire, some cameras change hands (keeping or dropping their viewers) and a few are decommissioned.
 */
export function planFleet(options: FleetOptions, random: Random): FleetPlan {
  const users = fleetUsers(options);
  const counts = emptyFleetCounts();
  const devices = [...fleetDevices(options, users, random, counts)];
  return { users, devices, counts };
}

export function emptyFleetCounts(): FleetCounts {
  return { ownershipChanges: 0, grants: 0, revokes: 0, expired: 0, transfers: 0, decommissioned: 0 };
}

/**
 * The devices of `planFleet` one at a time (the same ones, for the same random state), so a fleet of millions
 * can be written out without being held; `counts` is added to as they are made.
 */
export function* fleetDevices(
  options: FleetOptions,
  users: readonly string[],
  random: Random,
  counts: FleetCounts,
): Generator<FleetDevice> {
  const prefix = options.idPrefix ?? '';
  const width = idWidth(options);
  const start = options.now - 30 * DAY;
  let made = 0;
  const pickUser = (excluding: ReadonlySet<string>): string => {
    for (;;) {
      const user = users[random.below(users.length)];
      if (!excluding.has(user)) return user;
    }
  };

  while (made < options.devices) {
    const owner = users[random.below(users.length)];
    const cameras =
      1 + (random.chance(0.35) ? 1 : 0) + (random.chance(0.12) ? 1 : 0) + (random.chance(0.04) ? 1 : 0);
    const householdSize = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3][random.below(10)];
    const household = new Set<string>([owner]);
    while (household.size < Math.min(householdSize + 1, users.length)) household.add(pickUser(household));
    const members = [...household].slice(1);

    for (let c = 0; c < cameras && made < options.devices; c++) {
      const index = made++;
      const deviceId = `${prefix}cam-${String(index).padStart(width, '0')}`;
      const registeredAt = start + index;
      const changes: FleetChange[] = [{ op: 'register', ownerId: owner, at: registeredAt }];
      const active = new Set<string>();
      const ended = new Map<string, EndReason>();
      const fates = new Map<string, GrantFate>();

      members.forEach((userId, k) => {
        if (!random.chance(0.9)) return;
        const fate = grantFate(random);
        fates.set(userId, fate);
        const at = start + DAY + k * SECOND;
        if (fate === 'expires-before-storm')
          changes.push({ op: 'grant', userId, at, expiresAt: start + 15 * DAY });
        else if (fate === 'expires-after-storm')
          changes.push({ op: 'grant', userId, at, expiresAt: options.now + 30 * DAY });
        else changes.push({ op: 'grant', userId, at });
        active.add(userId);
        counts.grants++;
      });
      members.forEach((userId, k) => {
        const fate = fates.get(userId);
        if (fate !== 'revoked' && fate !== 'revoked-then-regranted') return;
        changes.push({ op: 'revoke', userId, at: start + 10 * DAY + k * SECOND });
        active.delete(userId);
        ended.set(userId, 'revoked');
        counts.revokes++;
      });
      members.forEach((userId, k) => {
        if (fates.get(userId) !== 'revoked-then-regranted') return;
        changes.push({ op: 'grant', userId, at: start + 12 * DAY + k * SECOND });
        active.add(userId);
        ended.delete(userId);
        counts.grants++;
      });
      // Expiries take effect at day 15 with no event at all.
      for (const [userId, fate] of fates) {
        if (fate !== 'expires-before-storm') continue;
        active.delete(userId);
        ended.set(userId, 'expired');
        counts.expired++;
      }

      let currentOwner: string | null = owner;
      if (random.chance(0.03)) {
        const newOwnerId = pickUser(new Set([owner]));
        const keepViewers = random.chance(0.5);
        changes.push({ op: 'transfer', newOwnerId, keepViewers, at: start + 20 * DAY });
        ended.set(owner, 'transferred');
        if (keepViewers) {
          // The new owner's share, if any, becomes ownership.
          active.delete(newOwnerId);
        } else {
          for (const userId of active) ended.set(userId, 'transferred');
          active.clear();
        }
        ended.delete(newOwnerId);
        currentOwner = newOwnerId;
        counts.transfers++;
      }
      let online = true;
      if (random.chance(0.005)) {
        changes.push({ op: 'decommission', at: start + 25 * DAY });
        online = false;
        currentOwner = null;
        active.clear();
        counts.decommissioned++;
      }
      const authorized = new Set<string>(active);
      if (currentOwner !== null) authorized.add(currentOwner);
      counts.ownershipChanges += changes.length;
      yield { deviceId, changes, owner: currentOwner, online, authorized, ended };
    }
  }
}

/** §2 reason a user not authorized at storm time gets: what ended their latest interval, else never granted. */
export function expectedReason(device: StormDevice, userId: string): DenialReason | null {
  if (device.authorized.has(userId)) return null;
  if (!device.online) return 'decommissioned';
  return device.ended.get(userId) ?? 'never_granted';
}

import { createHash } from 'node:crypto';
import {
  accessAtPacked,
  applyToPacked,
  judgePacked,
  newPackedTimeline,
  packedEntries,
  packedHasUser,
  packedUserKeys,
  packTimeline,
  unpackTimeline,
  userAccessAtPacked,
  isDeviceEventType,
  toDeviceEvent,
  type ActiveAccess,
  type PackedTimeline,
  type DeviceEvent,
  type DeviceTimeline,
  type Judgement,
  type Millis,
} from '@ledger/domain';
import type { RecordedEvent } from '@ledger/event-store';
import { InternedIds, UserDeviceLists } from './interned-ids';

export function isDeviceEvent(event: { type: string }): boolean {
  return isDeviceEventType(event.type);
}

/** One relationship change, as the watch feed and cache invalidation see it. */
export interface RelationshipChange {
  readonly type: DeviceEvent['type'];
  readonly deviceId: string;
  /** Every user whose access to the device may have changed: drop cached (user, device) pairs for them. */
  readonly userIds: readonly string[];
  readonly occurredAt: string;
}

export interface SerializedDevice {
  deviceId: string;
  registeredAt: Millis;
  decommissionedAt: Millis | null;
  lastChangeAt: Millis;
  owner: string | null;
  /** Infinity is not JSON: open ends are stored as null. */
  access: Array<[string, Array<number | null>]>;
}

/**
 * The table as it was at one moment, for a snapshot written beside live updates: taking one copies pointers
 * only, and until it is released the table copies a device's array before it first changes it, so what the
 * capture reads never moves. Ids are interned append-only, so the counts fix the id tables too.
 */
export interface RelationshipTableCapture {
  readonly deviceCount: number;
  readonly userCount: number;
  deviceId(key: number): string;
  userId(key: number): string;
  /** The device's packed timeline, its users keyed by `userId`: read it, never change it. */
  timeline(key: number): PackedTimeline;
  /** Ends copy-on-write; the capture must not be read after. */
  release(): void;
}

/**
 * The user–device relationship table: the in-memory index behind every check. It is written only by
 * applying the log's device events in order, so a rebuild from position zero reproduces it exactly.
 *
 * Memory is what bounds a fleet-sized table, so nothing here is an object per relationship: user and device
 * ids are interned once each, every device's whole history is one packed array of doubles (see
 * `PackedTimeline`) keyed by user number, and a user's devices are a linked list in typed arrays.
 */
export class RelationshipTable {
  private readonly deviceIds = new InternedIds();
  private readonly userIds = new InternedIds();
  /** By device key. */
  private readonly timelines: PackedTimeline[] = [];
  private readonly userDevices = new UserDeviceLists();
  /** The timelines an open capture holds: an array found here is copied before it is changed. */
  private captured: PackedTimeline[] | null = null;

  get deviceCount(): number {
    return this.deviceIds.size;
  }

  /** Number of users who ever had access to a device. */
  get userCount(): number {
    return this.userIds.size;
  }

  /** Number of (user, device) pairs that ever had access. */
  get relationshipCount(): number {
    return this.userDevices.size;
  }

  /** Applies a device event; returns what changed, or null for events this table ignores. */
  apply(event: RecordedEvent): RelationshipChange | null {
    const domainEvent = toDeviceEvent(event);
    if (!domainEvent) return null;
    const data = domainEvent.data;
    const device = this.deviceIds.keyOf(data.deviceId);
    const existing = device < 0 ? undefined : this.timelines[device];
    let userIds: string[];
    // The user this event may give a first relationship with the device.
    let newcomer: string | null = null;
    switch (domainEvent.type) {
      case 'DeviceRegistered': {
        if (existing) return null;
        const key = this.deviceIds.keyFor(data.deviceId);
        const owner = this.userIds.keyFor(domainEvent.data.ownerId);
        this.timelines[key] = newPackedTimeline(owner, Date.parse(data.occurredAt));
        this.userDevices.add(owner, key);
        return {
          type: domainEvent.type,
          deviceId: data.deviceId,
          userIds: [domainEvent.data.ownerId],
          occurredAt: data.occurredAt,
        };
      }
      case 'AccessGranted':
        newcomer = domainEvent.data.userId;
        userIds = [domainEvent.data.userId];
        break;
      case 'AccessRevoked':
        userIds = [domainEvent.data.userId];
        break;
      case 'OwnershipTransferred':
        newcomer = domainEvent.data.newOwnerId;
        userIds = domainEvent.data.keepViewers
          ? [domainEvent.data.previousOwnerId, domainEvent.data.newOwnerId]
          : existing
            ? this.usersOf(existing)
            : [];
        if (!userIds.includes(domainEvent.data.newOwnerId)) userIds.push(domainEvent.data.newOwnerId);
        break;
      case 'DeviceDecommissioned':
        userIds = existing ? this.usersOf(existing) : [];
        break;
      default:
        return null;
    }
    if (!existing) return null;
    const known = newcomer === null || packedHasUser(existing, this.userIds.keyOf(newcomer));
    // applyToPacked changes short arrays' headers and long arrays' spans in place: a captured one is copied.
    const writable =
      this.captured !== null && this.captured[device] === existing ? existing.slice() : existing;
    this.timelines[device] = applyToPacked(writable, domainEvent, this.userIds);
    if (!known) this.userDevices.add(this.userIds.keyOf(newcomer!), device);
    return { type: domainEvent.type, deviceId: data.deviceId, userIds, occurredAt: data.occurredAt };
  }

  private usersOf(p: PackedTimeline): string[] {
    return packedUserKeys(p).map((key) => this.userIds.idOf(key));
  }

  /** The device's timeline as a standalone copy (the table keeps it packed; changing the copy changes nothing). */
  timeline(deviceId: string): DeviceTimeline | undefined {
    const device = this.deviceIds.keyOf(deviceId);
    return device < 0 ? undefined : unpackTimeline(deviceId, this.timelines[device], this.userIds);
  }

  check(userId: string, deviceId: string, at: Millis): Judgement {
    const device = this.deviceIds.keyOf(deviceId);
    return judgePacked(device < 0 ? undefined : this.timelines[device], this.userIds.keyOf(userId), at);
  }

  /** Owner and viewers at `at`, or undefined for an unknown device. */
  deviceAccess(deviceId: string, at: Millis): ActiveAccess[] | undefined {
    const device = this.deviceIds.keyOf(deviceId);
    return device < 0 ? undefined : accessAtPacked(this.timelines[device], at, this.userIds);
  }

  userAccess(userId: string, at: Millis): Array<ActiveAccess & { deviceId: string }> {
    const result: Array<ActiveAccess & { deviceId: string }> = [];
    const user = this.userIds.keyOf(userId);
    for (const device of this.userDevices.devicesOf(user)) {
      const access = userAccessAtPacked(this.timelines[device], user, userId, at);
      if (access) result.push({ ...access, deviceId: this.deviceIds.idOf(device) });
    }
    return result.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  }

  /** sha256 over the canonical form of every timeline, in device id order: equal tables, equal digests. */
  digest(): string {
    const hash = createHash('sha256');
    const devices = this.timelines.map((_, key) => key);
    const ids = devices.map((key) => this.deviceIds.idOf(key));
    devices.sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0));
    for (const key of devices) hash.update(JSON.stringify(this.serializeDevice(key))).update('\n');
    return `sha256:${hash.digest('hex')}`;
  }

  /**
   * The table as it is now, in O(devices) pointer copies; events applied after this call are not in it. One
   * capture at a time: the snapshot writer holds it until the file is written.
   */
  capture(): RelationshipTableCapture {
    if (this.captured !== null) throw new Error('the relationship table is already captured');
    const timelines = this.timelines.slice();
    this.captured = timelines;
    const deviceIds = this.deviceIds;
    const userIds = this.userIds;
    return {
      deviceCount: timelines.length,
      userCount: userIds.size,
      deviceId: (key) => deviceIds.idOf(key),
      userId: (key) => userIds.idOf(key),
      timeline: (key) => timelines[key],
      release: () => {
        if (this.captured === timelines) this.captured = null;
      },
    };
  }

  /**
   * Restores a captured table's user table: the keys its timelines hold are the order users come in here.
   * Only into an empty table, before `restorePacked`.
   */
  restoreUser(userId: string): void {
    const expected = this.userIds.size;
    if (this.userIds.keyFor(userId) !== expected) throw new Error(`user ${userId} is listed twice`);
  }

  /**
   * Restores one device of a captured table, its timeline as the table held it (users keyed by the order of
   * `restoreUser` calls). The array is taken as is; a timeline no table could hold is refused.
   */
  restorePacked(deviceId: string, p: PackedTimeline): void {
    const users = this.userIds.size;
    const problem = packedShapeProblem(p, users);
    if (problem !== null) throw new Error(`device ${deviceId}: ${problem}`);
    const key = this.deviceIds.keyFor(deviceId);
    if (key !== this.timelines.length) throw new Error(`device ${deviceId} is listed twice`);
    this.timelines.push(p);
    for (const user of packedUserKeys(p)) this.userDevices.add(user, key);
  }

  *serialize(): Generator<SerializedDevice> {
    for (let key = 0; key < this.timelines.length; key++) yield this.serializeDevice(key);
  }

  restore(device: SerializedDevice): void {
    const key = this.deviceIds.keyFor(device.deviceId);
    const previous = this.timelines[key];
    const p = packTimeline(
      {
        ...device,
        access: device.access.map(([userId, list]) => [userId, list.map((v) => (v === null ? Infinity : v))]),
      },
      this.userIds,
    );
    this.timelines[key] = p;
    for (const user of packedUserKeys(p))
      if (!previous || !packedHasUser(previous, user)) this.userDevices.add(user, key);
  }

  private serializeDevice(key: number): SerializedDevice {
    const p = this.timelines[key];
    const owner = p[3];
    return {
      deviceId: this.deviceIds.idOf(key),
      registeredAt: p[0],
      decommissionedAt: Number.isNaN(p[1]) ? null : p[1],
      lastChangeAt: p[2],
      owner: owner < 0 ? null : this.userIds.idOf(owner),
      access: packedEntries(p, this.userIds).map(([userId, list]) => [
        userId,
        list.map((v) => (v === Infinity ? null : v)),
      ]),
    };
  }
}

/** Why `p` is not a packed timeline over `users` user keys, or null when it is one. */
function packedShapeProblem(p: PackedTimeline, users: number): string | null {
  if (p.length < 8 || p.length % 4 !== 0)
    return `a timeline of ${p.length} numbers is not a header and spans`;
  const owner = p[3];
  if (!(owner === -1 || (Number.isInteger(owner) && owner >= 0 && owner < users))) return 'unknown owner key';
  for (let i = 4; i < p.length; i += 4) {
    const user = p[i];
    if (!(Number.isInteger(user) && user >= 0 && user < users)) return 'unknown user key';
  }
  return null;
}

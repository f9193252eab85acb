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

  get deviceCount(): number {
    return this.deviceIds.size;
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
    this.timelines[device] = applyToPacked(existing, domainEvent, this.userIds);
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

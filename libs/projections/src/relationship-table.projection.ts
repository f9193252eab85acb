import { createHash } from 'node:crypto';
import {
  accessAt,
  applyDeviceEvent,
  isDeviceEventType,
  judge,
  newTimeline,
  restoreTimeline,
  timelineEntries,
  toDeviceEvent,
  userAccessAt,
  type ActiveAccess,
  type DeviceEvent,
  type DeviceTimeline,
  type Judgement,
  type Millis,
} from '@ledger/domain';
import type { RecordedEvent } from '@ledger/event-store';

export function isDeviceEvent(event: { type: string }): boolean {
  return isDeviceEventType(event.type);
}

/** A user's devices: one id, a short list, or (past `SMALL_DEVICE_LIST`) a set. */
type UserDevices = string | string[] | Set<string>;
const SMALL_DEVICE_LIST = 16;

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
 */
export class RelationshipTable {
  private readonly devices = new Map<string, DeviceTimeline>();
  /**
   * user → devices the user has ever had access to; callers filter by the instant they ask about. Most users
   * have one or a few devices, so the devices are held as the bare id, then a small array, and only past
   * `SMALL_DEVICE_LIST` a Set: a Set per user would be the table's largest cost per relationship.
   */
  private readonly userDevices = new Map<string, UserDevices>();
  private relationships = 0;

  get deviceCount(): number {
    return this.devices.size;
  }

  /** Number of (user, device) pairs that ever had access. */
  get relationshipCount(): number {
    return this.relationships;
  }

  /** Applies a device event; returns what changed, or null for events this table ignores. */
  apply(event: RecordedEvent): RelationshipChange | null {
    const domainEvent = toDeviceEvent(event);
    if (!domainEvent) return null;
    const data = domainEvent.data;
    const existing = this.devices.get(data.deviceId);
    let userIds: string[];
    switch (domainEvent.type) {
      case 'DeviceRegistered':
        if (existing) return null;
        this.devices.set(
          data.deviceId,
          newTimeline(data.deviceId, domainEvent.data.ownerId, Date.parse(data.occurredAt)),
        );
        this.link(domainEvent.data.ownerId, data.deviceId);
        return {
          type: domainEvent.type,
          deviceId: data.deviceId,
          userIds: [domainEvent.data.ownerId],
          occurredAt: data.occurredAt,
        };
      case 'AccessGranted':
      case 'AccessRevoked':
        userIds = [domainEvent.data.userId];
        break;
      case 'OwnershipTransferred':
        userIds = domainEvent.data.keepViewers
          ? [domainEvent.data.previousOwnerId, domainEvent.data.newOwnerId]
          : existing
            ? [...existing.access.keys()]
            : [];
        if (!userIds.includes(domainEvent.data.newOwnerId)) userIds.push(domainEvent.data.newOwnerId);
        break;
      case 'DeviceDecommissioned':
        userIds = existing ? [...existing.access.keys()] : [];
        break;
      default:
        return null;
    }
    if (!existing) return null;
    applyDeviceEvent(existing, domainEvent);
    // The timeline's own id string, not the event's copy: one string per device, however many relationships.
    if (domainEvent.type === 'AccessGranted') this.link(domainEvent.data.userId, existing.deviceId);
    if (domainEvent.type === 'OwnershipTransferred')
      this.link(domainEvent.data.newOwnerId, existing.deviceId);
    return { type: domainEvent.type, deviceId: data.deviceId, userIds, occurredAt: data.occurredAt };
  }

  private link(userId: string, deviceId: string): void {
    const devices = this.userDevices.get(userId);
    if (devices === undefined) {
      this.userDevices.set(userId, deviceId);
    } else if (typeof devices === 'string') {
      if (devices === deviceId) return;
      this.userDevices.set(userId, [devices, deviceId]);
    } else if (Array.isArray(devices)) {
      if (devices.includes(deviceId)) return;
      if (devices.length < SMALL_DEVICE_LIST) devices.push(deviceId);
      else this.userDevices.set(userId, new Set([...devices, deviceId]));
    } else {
      if (devices.has(deviceId)) return;
      devices.add(deviceId);
    }
    this.relationships++;
  }

  timeline(deviceId: string): DeviceTimeline | undefined {
    return this.devices.get(deviceId);
  }

  check(userId: string, deviceId: string, at: Millis): Judgement {
    return judge(this.devices.get(deviceId), userId, at);
  }

  /** Owner and viewers at `at`, or undefined for an unknown device. */
  deviceAccess(deviceId: string, at: Millis): ActiveAccess[] | undefined {
    const timeline = this.devices.get(deviceId);
    return timeline ? accessAt(timeline, at) : undefined;
  }

  userAccess(userId: string, at: Millis): Array<ActiveAccess & { deviceId: string }> {
    const result: Array<ActiveAccess & { deviceId: string }> = [];
    const devices = this.userDevices.get(userId);
    for (const deviceId of devices === undefined ? [] : typeof devices === 'string' ? [devices] : devices) {
      const timeline = this.devices.get(deviceId);
      const access = timeline ? userAccessAt(timeline, userId, at) : null;
      if (access) result.push({ ...access, deviceId });
    }
    return result.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  }

  /** sha256 over the canonical form of every timeline, in device id order: equal tables, equal digests. */
  digest(): string {
    const hash = createHash('sha256');
    const ids = [...this.devices.keys()].sort();
    for (const id of ids) hash.update(JSON.stringify(serializeTimeline(this.devices.get(id)!))).update('\n');
    return `sha256:${hash.digest('hex')}`;
  }

  *serialize(): Generator<SerializedDevice> {
    for (const timeline of this.devices.values()) yield serializeTimeline(timeline);
  }

  restore(device: SerializedDevice): void {
    const timeline = restoreTimeline({
      ...device,
      access: device.access.map(([userId, list]) => [userId, list.map((v) => (v === null ? Infinity : v))]),
    });
    this.devices.set(device.deviceId, timeline);
    for (const userId of timeline.access.keys()) this.link(userId, device.deviceId);
  }
}

function serializeTimeline(timeline: DeviceTimeline): SerializedDevice {
  return {
    deviceId: timeline.deviceId,
    registeredAt: timeline.registeredAt,
    decommissionedAt: timeline.decommissionedAt,
    lastChangeAt: timeline.lastChangeAt,
    owner: timeline.owner,
    access: timelineEntries(timeline).map(([userId, list]) => [
      userId,
      list.map((v) => (v === Infinity ? null : v)),
    ]),
  };
}

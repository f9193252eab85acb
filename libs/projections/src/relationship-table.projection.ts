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
  type PackedTimelineView,
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
  /** The hashes the ids are filed under (see `InternedIds`): a restore files them without hashing. */
  deviceIdHash(key: number): number;
  userIdHash(key: number): number;
  /** The device's packed timeline, its users keyed by `userId`: read it, never change it. */
  timeline(key: number): PackedTimelineView;
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
  /** By device key; undefined while the device's timeline is still the snapshot's doubles in `stored`. */
  private readonly timelines: Array<PackedTimeline | undefined> = [];
  /** Timelines restored from a snapshot and not changed since, kept as its blocks of doubles. */
  private readonly stored = new StoredTimelines();
  private readonly userDevices = new UserDeviceLists();
  /** The timelines an open capture holds: an array found here is copied before it is changed. */
  private captured: Array<PackedTimeline | undefined> | null = null;

  get deviceCount(): number {
    return this.deviceIds.size;
  }

  /** Number of users who ever had access to a device. */
  get userCount(): number {
    return this.userIds.size;
  }

  /** Devices whose timeline is restored or applied (during a restore, those restored so far). */
  get restoredTimelines(): number {
    return this.timelines.length;
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
    const existing = device < 0 ? undefined : this.timelineOf(device);
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
    // applyToPacked changes short arrays' headers and long arrays' spans in place: a captured one is copied,
    // and a snapshot's doubles become an array of the device's own.
    const live = this.timelines[device];
    const writable =
      live === undefined
        ? arrayOf(existing)
        : this.captured !== null && this.captured[device] === live
          ? live.slice()
          : live;
    this.timelines[device] = applyToPacked(writable, domainEvent, this.userIds);
    if (!known) this.userDevices.add(this.userIds.keyOf(newcomer!), device);
    return { type: domainEvent.type, deviceId: data.deviceId, userIds, occurredAt: data.occurredAt };
  }

  private timelineOf(key: number): PackedTimelineView {
    return this.timelines[key] ?? this.stored.view(key);
  }

  private usersOf(p: PackedTimelineView): string[] {
    return packedUserKeys(p).map((key) => this.userIds.idOf(key));
  }

  /** The device's timeline as a standalone copy (the table keeps it packed; changing the copy changes nothing). */
  timeline(deviceId: string): DeviceTimeline | undefined {
    const device = this.deviceIds.keyOf(deviceId);
    return device < 0 ? undefined : unpackTimeline(deviceId, this.timelineOf(device), this.userIds);
  }

  check(userId: string, deviceId: string, at: Millis): Judgement {
    const device = this.deviceIds.keyOf(deviceId);
    return judgePacked(device < 0 ? undefined : this.timelineOf(device), this.userIds.keyOf(userId), at);
  }

  /** Owner and viewers at `at`, or undefined for an unknown device. */
  deviceAccess(deviceId: string, at: Millis): ActiveAccess[] | undefined {
    const device = this.deviceIds.keyOf(deviceId);
    return device < 0 ? undefined : accessAtPacked(this.timelineOf(device), at, this.userIds);
  }

  userAccess(userId: string, at: Millis): Array<ActiveAccess & { deviceId: string }> {
    const result: Array<ActiveAccess & { deviceId: string }> = [];
    const user = this.userIds.keyOf(userId);
    for (const device of this.userDevices.devicesOf(user)) {
      const access = userAccessAtPacked(this.timelineOf(device), user, userId, at);
      if (access) result.push({ ...access, deviceId: this.deviceIds.idOf(device) });
    }
    return result.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  }

  /** sha256 over the canonical form of every timeline, in device id order: equal tables, equal digests. */
  digest(): string {
    const hash = createHash('sha256');
    const devices = Array.from({ length: this.timelines.length }, (_, key) => key);
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
    const stored = this.stored;
    const deviceIds = this.deviceIds;
    const userIds = this.userIds;
    return {
      deviceCount: timelines.length,
      userCount: userIds.size,
      deviceId: (key) => deviceIds.peek(key),
      userId: (key) => userIds.peek(key),
      deviceIdHash: (key) => deviceIds.hashOf(key),
      userIdHash: (key) => userIds.hashOf(key),
      timeline: (key) => timelines[key] ?? stored.view(key),
      release: () => {
        if (this.captured === timelines) this.captured = null;
      },
    };
  }

  /** Makes room for a snapshot's users and devices before they are restored. */
  reserve(users: number, devices: number): void {
    this.userIds.reserve(users);
    this.deviceIds.reserve(devices);
  }

  /**
   * Restores a run of a captured table's user ids: back to back in `text`, id i from `starts[i]` to
   * `starts[i + 1]`, filed under `hashes`. Their keys are the order they come in, which the timelines refer
   * to: only into a table with no devices yet.
   */
  restoreUserIds(text: string, starts: Uint32Array, hashes: ArrayLike<number>): void {
    if (this.deviceIds.size > 0) throw new Error('user ids come before device ids');
    this.userIds.fileStored(text, starts, hashes);
  }

  /** Restores a run of a captured table's device ids (as `restoreUserIds`); their timelines follow. */
  restoreDeviceIds(text: string, starts: Uint32Array, hashes: ArrayLike<number>): void {
    this.deviceIds.fileStored(text, starts, hashes);
  }

  /**
   * Restores the timelines of the next devices in key order, device i's being `values[starts[i]..starts[i +
   * 1])`, users keyed as restored. The doubles are kept as they are, not copied into arrays: a device gets an
   * array of its own when it first changes. A timeline no table could hold is refused.
   */
  restoreStored(starts: Uint32Array, values: Float64Array): void {
    const users = this.userIds.size;
    const firstKey = this.timelines.length;
    const count = starts.length - 1;
    if (firstKey + count > this.deviceIds.size) throw new Error('more timelines than device ids');
    const seen: number[] = [];
    for (let i = 0; i < count; i++) {
      const key = firstKey + i;
      const problem = storedShapeProblem(values, starts[i], starts[i + 1], users);
      if (problem !== null) throw new Error(`device ${this.deviceIds.idOf(key)}: ${problem}`);
      this.timelines.push(undefined);
      if (starts[i + 1] - starts[i] > MANY_SPANS) {
        // A device shared with thousands: a scan of the users seen per span would be quadratic.
        for (const user of packedUserKeys(values.subarray(starts[i], starts[i + 1])))
          this.userDevices.add(user, key);
        continue;
      }
      seen.length = 0;
      for (let at = starts[i] + 4; at < starts[i + 1]; at += 4) {
        const user = values[at];
        if (!seen.includes(user)) {
          seen.push(user);
          this.userDevices.add(user, key);
        }
      }
    }
    this.stored.add(firstKey, starts, values);
  }

  *serialize(): Generator<SerializedDevice> {
    for (let key = 0; key < this.timelines.length; key++) yield this.serializeDevice(key);
  }

  restore(device: SerializedDevice): void {
    const key = this.deviceIds.keyFor(device.deviceId);
    const previous = key < this.timelines.length ? this.timelineOf(key) : undefined;
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
    const p = this.timelineOf(key);
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

/** Doubles in a timeline of 32 spans: past it, distinct users are found with a Set. */
const MANY_SPANS = 4 + 4 * 32;

/** Why `values[start..end)` is not a packed timeline over `users` user keys, or null when it is one. */
function storedShapeProblem(values: Float64Array, start: number, end: number, users: number): string | null {
  const length = end - start;
  if (!(end <= values.length && length >= 8 && length % 4 === 0)) {
    return `a timeline of ${length} numbers is not a header and spans`;
  }
  const owner = values[start + 3];
  if (!(owner === -1 || (Number.isInteger(owner) && owner >= 0 && owner < users))) return 'unknown owner key';
  for (let at = start + 4; at < end; at += 4) {
    const user = values[at];
    if (!(Number.isInteger(user) && user >= 0 && user < users)) return 'unknown user key';
  }
  return null;
}

/** A device's own array of a stored timeline: exactly its size, as the table keeps short timelines. */
function arrayOf(view: PackedTimelineView): PackedTimeline {
  const p = new Array<number>(view.length);
  for (let i = 0; i < view.length; i++) p[i] = view[i];
  return p;
}

/**
 * Timelines as a snapshot's blocks hold them: per block, the first device key, each device's start in the
 * block's doubles, and the doubles, outside the JS heap. Never changed: a device that changes gets an array.
 */
class StoredTimelines {
  private readonly firstKeys: number[] = [];
  private readonly starts: Uint32Array[] = [];
  private readonly values: Float64Array[] = [];

  add(firstKey: number, starts: Uint32Array, values: Float64Array): void {
    this.firstKeys.push(firstKey);
    this.starts.push(starts);
    this.values.push(values);
  }

  view(key: number): Float64Array {
    // The last block whose first key is at most `key`.
    let low = 0;
    let high = this.firstKeys.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.firstKeys[middle] <= key) low = middle;
      else high = middle - 1;
    }
    const starts = this.starts[low];
    const index = key - this.firstKeys[low];
    return this.values[low].subarray(starts[index], starts[index + 1]);
  }
}

import {
  emptyFleetCounts,
  fleetDevices,
  fleetUsers,
  type EndReason,
  type FleetCounts,
  type FleetOptions,
  type StormDevice,
} from './fleet';
import type { Random } from './random';

const END_REASONS: readonly EndReason[] = ['revoked', 'expired', 'transferred'];

/** A list of int32 that grows by doubling: one typed array instead of millions of small JS arrays. */
class Int32List {
  private values = new Int32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Int32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }

  get(index: number): number {
    return this.values[index];
  }

  /** The values, trimmed to their length. */
  pack(): Int32Array {
    return this.values.slice(0, this.length);
  }
}

/** What the storm reads of a fleet: its devices by index, made on demand. */
export interface StormFleet {
  readonly length: number;
  device(index: number): StormDevice;
  /** Whether the device comes back online in the storm, without making it. */
  isOnline(index: number): boolean;
}

/** An array of planned devices, read as the storm reads a fleet. */
export function fleetOfDevices(devices: readonly StormDevice[]): StormFleet {
  return {
    length: devices.length,
    device: (index) => devices[index],
    isOnline: (index) => devices[index].online,
  };
}

/**
 * The fleet's ground truth at storm time, packed: users are interned as their index among the fleet's
 * users, and each device's owner, authorized users and ended users (with what ended them) are runs of typed
 * arrays — some 30 bytes a device where a planned `FleetDevice`, with its sets, maps and history, takes ~770.
 * A million-device storm keeps only this; the history itself is written out to the import file and dropped.
 */
export class PackedFleet implements StormFleet {
  private constructor(
    private readonly users: readonly string[],
    private readonly deviceIds: (index: number) => string,
    private readonly owners: Int32Array,
    private readonly onlineFlags: Uint8Array,
    private readonly authorizedStart: Int32Array,
    private readonly authorizedUsers: Int32Array,
    private readonly endedStart: Int32Array,
    private readonly endedUsers: Int32Array,
    private readonly endedReasons: Uint8Array,
    readonly counts: FleetCounts,
  ) {}

  /** Plans the fleet (the same one `planFleet` makes from the same random state) and packs it as it goes. */
  static plan(options: FleetOptions, random: Random): PackedFleet {
    const users = fleetUsers(options);
    // Ids are `${prefix}u-<digits>`: the index is in the digits, with no map from ids to indices to hold.
    const userDigits = (options.idPrefix ?? '').length + 2;
    const userIndex = (userId: string): number => Number(userId.slice(userDigits));
    const counts = emptyFleetCounts();
    const owners = new Int32Array(options.devices);
    const online = new Uint8Array(options.devices);
    const authorizedStart = new Int32Array(options.devices + 1);
    const endedStart = new Int32Array(options.devices + 1);
    const authorized = new Int32List();
    const endedUsers = new Int32List();
    const endedReasons: number[] = [];
    let index = 0;
    let firstId = '';
    for (const device of fleetDevices(options, users, random, counts)) {
      if (index === 0) firstId = device.deviceId;
      owners[index] = device.owner === null ? -1 : userIndex(device.owner);
      online[index] = device.online ? 1 : 0;
      for (const userId of device.authorized) authorized.push(userIndex(userId));
      for (const [userId, reason] of device.ended) {
        endedUsers.push(userIndex(userId));
        endedReasons.push(END_REASONS.indexOf(reason));
      }
      index++;
      authorizedStart[index] = authorized.length;
      endedStart[index] = endedUsers.length;
    }
    // Device ids are `${prefix}cam-<index, zero-padded>`, like the first one.
    const deviceStem = firstId.slice(0, firstId.lastIndexOf('-') + 1);
    const width = firstId.length - deviceStem.length;
    return new PackedFleet(
      users,
      (i) => `${deviceStem}${String(i).padStart(width, '0')}`,
      owners,
      online,
      authorizedStart,
      authorized.pack(),
      endedStart,
      endedUsers.pack(),
      Uint8Array.from(endedReasons),
      counts,
    );
  }

  get length(): number {
    return this.owners.length;
  }

  isOnline(index: number): boolean {
    return this.onlineFlags[index] === 1;
  }

  device(index: number): StormDevice {
    const owner = this.owners[index];
    const authorized = new Set<string>();
    for (let k = this.authorizedStart[index]; k < this.authorizedStart[index + 1]; k++)
      authorized.add(this.users[this.authorizedUsers[k]]);
    const ended = new Map<string, EndReason>();
    for (let k = this.endedStart[index]; k < this.endedStart[index + 1]; k++)
      ended.set(this.users[this.endedUsers[k]], END_REASONS[this.endedReasons[k]]);
    return {
      deviceId: this.deviceIds(index),
      owner: owner < 0 ? null : this.users[owner],
      online: this.isOnline(index),
      authorized,
      ended,
    };
  }
}

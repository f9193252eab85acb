import {
  activeViewerInterval,
  applyDeviceEvent,
  cloneTimeline,
  isOwnerAt,
  type DeviceTimeline,
} from './access-timeline';
import {
  AlreadyOwnerError,
  DeviceAlreadyRegisteredError,
  DeviceDecommissionedError,
  DeviceNotFoundError,
  InvalidInputError,
  NoActiveAccessError,
  OutOfOrderChangeError,
  OwnerAccessChangeError,
} from './errors';
import type {
  AccessGranted,
  AccessRevoked,
  DeviceDecommissioned,
  DeviceEvent,
  DeviceRegistered,
  OwnershipTransferred,
} from './events';
import { formatTime, MAX_FUTURE_SKEW_MS, type Millis } from './time';

/** Commands carry business time already resolved (caller's or receipt time) and the ledger's record time. */
interface CommandBase {
  readonly deviceId: string;
  readonly actor: string;
  readonly reason?: string;
  readonly occurredAt: Millis;
  readonly recordedAt: Millis;
}

export type RegisterDevice = {
  readonly type: 'RegisterDevice';
  readonly data: CommandBase & { readonly ownerId: string; readonly model?: string };
};
export type GrantAccess = {
  readonly type: 'GrantAccess';
  readonly data: CommandBase & { readonly userId: string; readonly expiresAt?: Millis };
};
export type RevokeAccess = {
  readonly type: 'RevokeAccess';
  readonly data: CommandBase & { readonly userId: string };
};
export type TransferOwnership = {
  readonly type: 'TransferOwnership';
  readonly data: CommandBase & { readonly newOwnerId: string; readonly keepViewers: boolean };
};
export type DecommissionDevice = { readonly type: 'DecommissionDevice'; readonly data: CommandBase };

export type DeviceCommand =
  RegisterDevice | GrantAccess | RevokeAccess | TransferOwnership | DecommissionDevice;

export type DeviceState = DeviceTimeline | null;

export const initialState = (): DeviceState => null;

/** Pure: the timeline after `event`. The projection and command handlers fold in place for speed instead. */
export function evolve(state: DeviceState, event: DeviceEvent): DeviceState {
  return applyDeviceEvent(state ? cloneTimeline(state) : null, event);
}

export function foldDeviceEvents(events: Iterable<DeviceEvent>): DeviceState {
  let state: DeviceState = initialState();
  for (const event of events) state = applyDeviceEvent(state, event);
  return state;
}

/** Checks every rule of contract §2/§3 and says what happened; throws one domain error per violation. */
export function decide(command: DeviceCommand, state: DeviceState): DeviceEvent[] {
  const { data } = command;
  if (data.occurredAt > data.recordedAt + MAX_FUTURE_SKEW_MS) {
    throw new InvalidInputError('occurredAt', 'is more than 5 minutes in the future');
  }
  const dated = {
    deviceId: data.deviceId,
    actor: data.actor,
    ...(data.reason === undefined ? {} : { reason: data.reason }),
    occurredAt: formatTime(data.occurredAt),
    recordedAt: formatTime(data.recordedAt),
  };

  if (command.type === 'RegisterDevice') {
    if (state) throw new DeviceAlreadyRegisteredError(data.deviceId);
    const event: DeviceRegistered = {
      type: 'DeviceRegistered',
      data: {
        deviceId: dated.deviceId,
        ownerId: command.data.ownerId,
        actor: dated.actor,
        ...(command.data.model === undefined ? {} : { model: command.data.model }),
        occurredAt: dated.occurredAt,
        recordedAt: dated.recordedAt,
      },
    };
    return [event];
  }

  if (!state) throw new DeviceNotFoundError(data.deviceId);
  if (state.decommissionedAt !== null) throw new DeviceDecommissionedError(data.deviceId);
  if (data.occurredAt < state.lastChangeAt) {
    throw new OutOfOrderChangeError(data.deviceId, dated.occurredAt, formatTime(state.lastChangeAt));
  }
  const at = data.occurredAt;

  switch (command.type) {
    case 'GrantAccess': {
      const { userId, expiresAt } = command.data;
      if (expiresAt !== undefined && expiresAt <= at) {
        throw new InvalidInputError('expiresAt', 'must be later than occurredAt');
      }
      if (isOwnerAt(state, userId, at)) throw new OwnerAccessChangeError(data.deviceId, userId);
      const event: AccessGranted = {
        type: 'AccessGranted',
        data: { ...dated, userId, ...(expiresAt === undefined ? {} : { expiresAt: formatTime(expiresAt) }) },
      };
      return [event];
    }
    case 'RevokeAccess': {
      const { userId } = command.data;
      if (isOwnerAt(state, userId, at)) throw new OwnerAccessChangeError(data.deviceId, userId);
      if (!activeViewerInterval(state, userId, at)) throw new NoActiveAccessError(data.deviceId, userId);
      const event: AccessRevoked = { type: 'AccessRevoked', data: { ...dated, userId } };
      return [event];
    }
    case 'TransferOwnership': {
      const { newOwnerId, keepViewers } = command.data;
      const previousOwnerId = state.owner;
      if (previousOwnerId === null) throw new DeviceDecommissionedError(data.deviceId);
      if (previousOwnerId === newOwnerId) throw new AlreadyOwnerError(data.deviceId, newOwnerId);
      const event: OwnershipTransferred = {
        type: 'OwnershipTransferred',
        data: { ...dated, previousOwnerId, newOwnerId, keepViewers },
      };
      return [event];
    }
    case 'DecommissionDevice': {
      const event: DeviceDecommissioned = { type: 'DeviceDecommissioned', data: dated };
      return [event];
    }
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${(unreachable as DeviceCommand).type}`);
    }
  }
}

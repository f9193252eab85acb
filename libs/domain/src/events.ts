import type { DenialReason, MediaType, Role, ViewAction } from './ids';

/** Emmett-style event: a readonly `{type, data}`; metadata is the store's business. */
export interface DomainEvent<Type extends string, Data extends object> {
  readonly type: Type;
  readonly data: Readonly<Data>;
}

/** Fields every ledger event carries. Times are RFC 3339 UTC with milliseconds. */
interface Dated {
  /** Business time: when it happened (caller-supplied, or receipt time). */
  readonly occurredAt: string;
  /** When the ledger accepted it; never caller-supplied. */
  readonly recordedAt: string;
}

interface OwnershipChange extends Dated {
  readonly deviceId: string;
  readonly actor: string;
  readonly reason?: string;
}

export type DeviceRegistered = DomainEvent<
  'DeviceRegistered',
  OwnershipChange & { readonly ownerId: string; readonly model?: string }
>;
export type AccessGranted = DomainEvent<
  'AccessGranted',
  OwnershipChange & { readonly userId: string; readonly expiresAt?: string }
>;
export type AccessRevoked = DomainEvent<'AccessRevoked', OwnershipChange & { readonly userId: string }>;
export type OwnershipTransferred = DomainEvent<
  'OwnershipTransferred',
  OwnershipChange & {
    readonly previousOwnerId: string;
    readonly newOwnerId: string;
    readonly keepViewers: boolean;
  }
>;
export type DeviceDecommissioned = DomainEvent<'DeviceDecommissioned', OwnershipChange>;

export type DeviceEvent =
  DeviceRegistered | AccessGranted | AccessRevoked | OwnershipTransferred | DeviceDecommissioned;

export const DEVICE_EVENT_TYPES: readonly DeviceEvent['type'][] = [
  'DeviceRegistered',
  'AccessGranted',
  'AccessRevoked',
  'OwnershipTransferred',
  'DeviceDecommissioned',
];

interface ViewFields extends Dated {
  readonly viewerId: string;
  readonly deviceId: string;
  readonly mediaId: string;
  readonly mediaType: MediaType;
  readonly action: ViewAction;
  readonly servedBy?: string;
  /** Token of the decision the serving service relied on, when it had one. */
  readonly decisionToken?: string;
}

/** A media view as reported (or, from the verification layer, as allowed and served). */
export type MediaViewed = DomainEvent<
  'MediaViewed',
  ViewFields & {
    /** Present when the ledger itself decided (`/v1/media/authorize`): the role it allowed under. */
    readonly authorizedAs?: Role;
  }
>;

/** The verification layer refused to serve. */
export type MediaAccessDenied = DomainEvent<
  'MediaAccessDenied',
  ViewFields & { readonly reason: DenialReason }
>;

export type ViewEvent = MediaViewed | MediaAccessDenied;

export const VIEW_EVENT_TYPES: readonly ViewEvent['type'][] = ['MediaViewed', 'MediaAccessDenied'];

/** Someone ran an incident replay (§4). */
export type IncidentReplayed = DomainEvent<
  'IncidentReplayed',
  {
    readonly actor: string;
    readonly window: { readonly from: string | null; readonly to: string | null };
    readonly deviceIds?: readonly string[];
    readonly viewerIds?: readonly string[];
    readonly logRange: { readonly from: string; readonly to: string };
    readonly exposures: number;
    readonly digest: string;
    readonly recordedAt: string;
  }
>;

/** Someone exported an audit trail (§5). */
export type AuditTrailExported = DomainEvent<
  'AuditTrailExported',
  {
    readonly actor: string;
    readonly filter: {
      readonly deviceId?: string;
      readonly userId?: string;
      readonly from?: string;
      readonly to?: string;
    };
    readonly format: 'ndjson' | 'csv';
    readonly count: number;
    readonly lastHash: string;
    readonly recordedAt: string;
  }
>;

export type AuditEvent = IncidentReplayed | AuditTrailExported;

export type LedgerEvent = DeviceEvent | ViewEvent | AuditEvent;

/** Stream naming: ownership changes per device (optimistic concurrency); views never contend. */
export const Streams = {
  devicePrefix: 'device-',
  device: (deviceId: string): string => `device-${deviceId}`,
  viewsPrefix: 'views-',
  /** Views go to one of a few shards, chosen by the caller; a batch always goes to one shard (atomic). */
  views: (shard: number): string => `views-${shard}`,
  audit: 'ledger-audit',
} as const;

export const VIEW_SHARDS = 16;

/** Stable shard for a key (FNV-1a), so one device's views tend to share a stream. */
export function viewShardFor(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % VIEW_SHARDS;
}

const DEVICE_TYPE_SET: ReadonlySet<string> = new Set(DEVICE_EVENT_TYPES);

export function isDeviceEventType(type: string): type is DeviceEvent['type'] {
  return DEVICE_TYPE_SET.has(type);
}

/** What the log hands over, whatever the store: a type and the parsed JSON data. */
export interface StoredRecord {
  readonly type: string;
  readonly data: unknown;
}

/**
 * The one decoder from the log to device events: the device event a stored record holds, or null for any other
 * record (views, audit records, events of other tools). A record of a device event type without an object
 * `data` naming its `deviceId` is not one the ledger wrote, and is refused by name rather than folded.
 */
export function toDeviceEvent(recorded: StoredRecord): DeviceEvent | null {
  if (!DEVICE_TYPE_SET.has(recorded.type)) return null;
  const data = recorded.data;
  if (
    typeof data !== 'object' ||
    data === null ||
    typeof (data as { deviceId?: unknown }).deviceId !== 'string'
  ) {
    throw new TypeError(`stored ${recorded.type} event has no deviceId: not written by the ledger`);
  }
  return { type: recorded.type, data } as DeviceEvent;
}

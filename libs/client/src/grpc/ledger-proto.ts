import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { BinaryReader, BinaryWriter } from 'google-protobuf';
import type { DenialReason, MediaType, Role, ViewAction } from '../ledger-client.types';

/** The contract of the gRPC interface, shared by the server and the client. */
export const LEDGER_PROTO = 'ledger/v1/ledger.proto';
export const LEDGER_SERVICE = 'ledger.v1.LedgerService';

/**
 * Field names become lowerCamelCase (the proto3 JSON names, which are the HTTP contract's names too); unset
 * fields stay absent instead of turning into '' or 0, so a missing id reads as missing, not as an empty one.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: false,
};

/** `proto/` at the repository root, found from this file in the sources and in `dist/` alike. */
export function protoDirectory(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'proto', LEDGER_PROTO))) return path.join(dir, 'proto');
    if (path.dirname(dir) === dir) throw new Error(`proto/${LEDGER_PROTO} not found above ${__dirname}`);
  }
}

export function loadLedgerPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(LEDGER_PROTO, { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDirectory()] });
}

/** Enum values of the wire (`MEDIA_TYPE_EVENT_VIDEO`) against the contract's words (`event_video`). */
function enumTable<T extends string>(prefix: string, values: readonly T[]) {
  const toWire = new Map<T, string>(values.map((v) => [v, `${prefix}_${v.toUpperCase()}`]));
  const fromWire = new Map<string, T>(values.map((v) => [`${prefix}_${v.toUpperCase()}`, v]));
  return {
    toWire: (value: T): string => toWire.get(value) ?? `${prefix}_UNSPECIFIED`,
    /** undefined for UNSPECIFIED, an unknown number, or anything else not in the contract. */
    fromWire: (value: unknown): T | undefined =>
      typeof value === 'string' ? fromWire.get(value) : undefined,
  };
}

export const ROLE = enumTable<Role>('ROLE', ['owner', 'viewer']);
export const MEDIA_TYPE = enumTable<MediaType>('MEDIA_TYPE', ['thumbnail', 'event_video', 'live_stream']);
export const VIEW_ACTION = enumTable<ViewAction>('VIEW_ACTION', ['delivered', 'opened', 'played']);
export const DENIAL_REASON = enumTable<DenialReason>('DENIAL_REASON', [
  'unknown_device',
  'decommissioned',
  'revoked',
  'expired',
  'transferred',
  'never_granted',
]);

/** Trailing metadata of a Watch refused with OUT_OF_RANGE: the oldest token the feed can resume after. */
export const OLDEST_RESUMABLE_TOKEN_KEY = 'ledger-oldest-resumable-token';

/** Metadata key of the standard rich error model (a serialized google.rpc.Status). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * google.rpc.Status { code = 1; message = 2; repeated Any details = 3 } holding one google.rpc.RetryInfo
 * { Duration retry_delay = 1 }: how gRPC clients (and grpcurl) learn when to retry an UNAVAILABLE.
 */
export function encodeRetryStatus(code: number, message: string, retryDelayMs: number): Buffer {
  const duration = new BinaryWriter();
  duration.writeInt64(1, Math.floor(retryDelayMs / 1000));
  duration.writeInt32(2, (retryDelayMs % 1000) * 1_000_000);
  const retryInfo = new BinaryWriter();
  retryInfo.writeBytes(1, duration.getResultBuffer());
  const any = new BinaryWriter();
  any.writeString(1, RETRY_INFO_TYPE_URL);
  any.writeBytes(2, retryInfo.getResultBuffer());
  const status = new BinaryWriter();
  status.writeInt32(1, code);
  status.writeString(2, message);
  status.writeBytes(3, any.getResultBuffer());
  return Buffer.from(status.getResultBuffer());
}

/** The retry delay a google.rpc.Status carries in a RetryInfo, in milliseconds; undefined when none. */
export function decodeRetryDelayMs(statusBytes: Uint8Array): number | undefined {
  try {
    for (const any of fields(statusBytes).get(3) ?? []) {
      const parts = fields(any as Uint8Array);
      const typeUrl = Buffer.from((parts.get(1)?.[0] as Uint8Array) ?? []).toString('utf8');
      if (typeUrl !== RETRY_INFO_TYPE_URL) continue;
      const retryInfo = fields((parts.get(2)?.[0] as Uint8Array) ?? new Uint8Array());
      const duration = fields((retryInfo.get(1)?.[0] as Uint8Array) ?? new Uint8Array());
      const seconds = Number(duration.get(1)?.[0] ?? 0);
      const nanos = Number(duration.get(2)?.[0] ?? 0);
      return seconds * 1000 + Math.round(nanos / 1_000_000);
    }
  } catch {
    // Details that do not parse carry no retry advice.
  }
  return undefined;
}

/** Length-delimited fields as bytes, varints as numbers: enough of the wire format for Status/Any/Duration. */
function fields(bytes: Uint8Array): Map<number, Array<Uint8Array | number>> {
  const reader = new BinaryReader(bytes);
  const found = new Map<number, Array<Uint8Array | number>>();
  while (reader.nextField() && !reader.isEndGroup()) {
    const field = reader.getFieldNumber();
    const list = found.get(field) ?? [];
    if (reader.getWireType() === 2) list.push(reader.readBytes());
    else if (reader.getWireType() === 0) list.push(reader.readInt64());
    else {
      reader.skipField();
      continue;
    }
    found.set(field, list);
  }
  return found;
}

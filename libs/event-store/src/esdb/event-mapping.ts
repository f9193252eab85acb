import type { RecordedEvent as VendorRecordedEvent } from '@eventstore/db-client';
import type { ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { StoreUnavailableError } from '../errors';
import type { JsonObject, RecordedEvent } from '../event-store.port';
import type { LogPosition } from '../position';

/**
 * The server lacks something the ledger relies on. Still a StoreUnavailableError for callers, but retrying
 * cannot help, so subscriptions give up at once.
 */
export class IncompatibleServerError extends StoreUnavailableError {}

/** Servers before 22.6 report no `$all` position on stream reads; the field then holds 2^64 - 1. */
const NO_POSITION = 0xffffffffffffffffn;

export function toLogPosition(commit: bigint, prepare: bigint, context: string): LogPosition {
  if (commit < 0n || prepare < 0n || commit >= NO_POSITION || prepare >= NO_POSITION) {
    throw new IncompatibleServerError(
      `EventStoreDB reported no log position for ${context}; the ledger needs EventStoreDB 22.10 or later`,
    );
  }
  return { commit, prepare };
}

function isPlainObject(value: unknown): value is JsonObject {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/**
 * The ledger only writes JSON objects. An event written by another tool may hold anything; it is wrapped
 * rather than dropped or thrown on, so a projection never stalls on a foreign event.
 */
export function toJsonObject(value: unknown): JsonObject {
  if (value === undefined || value === null) return {};
  if (isPlainObject(value)) return value;
  if (value instanceof Uint8Array) {
    if (value.length === 0) return {};
    return toJsonObject(parseBytes(value));
  }
  if (typeof value === 'string') return { value };
  return { value: value as JsonObject[string] };
}

function parseBytes(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return { base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  }
}

/** An event as the client's public reads and subscriptions hand it over. */
export function fromVendorEvent(event: VendorRecordedEvent): RecordedEvent {
  if (!event.position) {
    throw new IncompatibleServerError(
      `EventStoreDB reported no log position for ${event.streamId}@${event.revision}; version 22.10 or later is needed`,
    );
  }
  return {
    eventId: event.id,
    stream: event.streamId,
    revision: event.revision,
    type: event.type,
    data: toJsonObject(event.data),
    metadata: toJsonObject(event.metadata),
    position: toLogPosition(
      event.position.commit,
      event.position.prepare,
      `${event.streamId}@${event.revision}`,
    ),
  };
}

function uuidString(message: ReturnType<ReadResp.ReadEvent.RecordedEvent['getId']>): string {
  if (!message) throw new StoreUnavailableError('EventStoreDB sent an event without an id');
  if (!message.hasStructured()) return message.getString();
  const structured = message.getStructured()!;
  const most = BigInt.asUintN(64, BigInt(structured.getMostSignificantBits()));
  const least = BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits()));
  const hex = most.toString(16).padStart(16, '0') + least.toString(16).padStart(16, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An event straight off a `Streams.Read` response (the filtered `$all` reads). */
export function fromReadResponseEvent(recorded: ReadResp.ReadEvent.RecordedEvent): RecordedEvent {
  const identifier = recorded.getStreamIdentifier();
  if (!identifier) throw new StoreUnavailableError('EventStoreDB sent an event without a stream name');
  const stream = Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
  const revision = BigInt(recorded.getStreamRevision());
  const metadataMap = recorded.getMetadataMap();
  const contentType = metadataMap.get('content-type') ?? 'application/octet-stream';
  const data = recorded.getData_asU8();
  return {
    eventId: uuidString(recorded.getId()),
    stream,
    revision,
    type: metadataMap.get('type') ?? '',
    data:
      contentType === 'application/json' || data.length === 0
        ? toJsonObject(data)
        : { base64: Buffer.from(data).toString('base64') },
    metadata: toJsonObject(recorded.getCustomMetadata_asU8()),
    position: toLogPosition(
      BigInt(recorded.getCommitPosition()),
      BigInt(recorded.getPreparePosition()),
      `${stream}@${revision}`,
    ),
  };
}

/**
 * Conversions between the client's generated protobuf messages and the in-memory log. Only the generated
 * modules shipped with `@eventstore/db-client` (and the google-protobuf copy they load) may build messages the
 * client's serializers accept: they check `instanceof`.
 */
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { Empty, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { ExpectedState, StoredEvent, StreamState } from './in-memory-log';
import { encodedReadEvent } from './read-event-encoding';

export { Empty, GoogleEmpty };

const UINT64_MAX = 0xffffffffffffffffn;

export function uuidToString(uuid: UUID | undefined): string {
  if (!uuid) throw new Error('missing UUID');
  if (uuid.hasStructured()) {
    const structured = uuid.getStructured()!;
    const most = BigInt.asUintN(64, BigInt(structured.getMostSignificantBits()));
    const least = BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits()));
    const hex = most.toString(16).padStart(16, '0') + least.toString(16).padStart(16, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return uuid.getString();
}

export function uuidMessage(id: string, structured: boolean): UUID {
  const uuid = new UUID();
  if (!structured) return uuid.setString(id);
  const hex = id.replace(/-/g, '');
  const value = new UUID.Structured();
  value.setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)).toString());
  value.setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(16)}`)).toString());
  return uuid.setStructured(value);
}

export function streamName(identifier: StreamIdentifier | undefined): string {
  if (!identifier) throw new Error('missing stream identifier');
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

const identifiers = new WeakMap<StreamState, StreamIdentifier>();

export function streamIdentifier(stream: StreamState): StreamIdentifier {
  let identifier = identifiers.get(stream);
  if (!identifier) {
    identifier = new StreamIdentifier().setStreamName(stream.nameBytes);
    identifiers.set(stream, identifier);
  }
  return identifier;
}

export function streamIdentifierFromName(name: string): StreamIdentifier {
  return new StreamIdentifier().setStreamName(Buffer.from(name, 'utf8'));
}

/** Parses a uint64 carried as a decimal string; positions and revisions of this server fit in a double. */
export function parseUint64(text: string): number {
  const value = BigInt(text || '0');
  if (value < 0n || value > UINT64_MAX) throw new Error(`not a uint64: ${text}`);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

/**
 * The read response for one event; ids in string form take the fast encoder. With `link` the response carries
 * the event a `$>` link resolved to plus the link itself, as a read with resolveLinkTos does.
 */
export function readEventMessage(event: StoredEvent, structuredIds: boolean, link?: StoredEvent): ReadResp {
  if (link || structuredIds || event.isTombstone) return buildReadEventMessage(event, structuredIds, link);
  return encodedReadEvent(event);
}

function recordedEventMessage(event: StoredEvent, structuredIds: boolean): ReadResp.ReadEvent.RecordedEvent {
  const recorded = new ReadResp.ReadEvent.RecordedEvent();
  const position = String(event.position);
  recorded.setId(uuidMessage(event.id, structuredIds));
  recorded.setStreamIdentifier(streamIdentifier(event.stream));
  recorded.setStreamRevision(event.revisionText);
  recorded.setCommitPosition(position);
  recorded.setPreparePosition(position);
  const metadata = recorded.getMetadataMap();
  metadata.set('type', event.type);
  metadata.set('content-type', event.contentType);
  // .NET ticks (100 ns) since the Unix epoch.
  metadata.set('created', `${event.createdMs}0000`);
  recorded.setData(event.data);
  recorded.setCustomMetadata(event.metadata);
  return recorded;
}

/** The same message built with google-protobuf objects (structured ids; the reference for the encoder). */
export function buildReadEventMessage(
  event: StoredEvent,
  structuredIds: boolean,
  link?: StoredEvent,
): ReadResp {
  const readEvent = new ReadResp.ReadEvent();
  readEvent.setEvent(recordedEventMessage(event, structuredIds));
  if (link) readEvent.setLink(recordedEventMessage(link, structuredIds));
  readEvent.setCommitPosition(String((link ?? event).position));
  return new ReadResp().setEvent(readEvent);
}

export function describeExpected(expected: ExpectedState): string {
  return expected.kind === 'revision' ? String(expected.revision) : expected.kind;
}

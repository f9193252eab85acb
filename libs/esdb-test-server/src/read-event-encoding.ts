/**
 * Encodes the `ReadResp { event }` message of a stored event straight into protobuf bytes. Building it with
 * google-protobuf objects costs several times more than the bytes themselves, and reads of a million events
 * are this server's busiest path. The result travels as a `ReadResp` whose `serializeBinary` returns the
 * bytes, so the client's generated serializer (which checks `instanceof ReadResp`) accepts it unchanged.
 *
 * Field numbers (streams.proto): ReadResp.event = 1; ReadEvent.event = 1, commit_position = 3;
 * RecordedEvent.id = 1, stream_identifier = 2, stream_revision = 3, prepare_position = 4, commit_position = 5,
 * metadata = 6 (map<string, string>), custom_metadata = 7, data = 8; UUID.string = 2;
 * StreamIdentifier.stream_name = 3.
 */
import { ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { StoredEvent } from './in-memory-log';
import { Writer, delimited, varintLength } from './protobuf-writer';

class EncodedReadResp extends ReadResp {
  constructor(private readonly encoded: Uint8Array) {
    super();
  }

  override serializeBinary(): Uint8Array {
    return this.encoded;
  }
}

const METADATA_KEYS = ['type', 'content-type', 'created'] as const;

export function encodeReadEventBytes(event: StoredEvent): Buffer {
  const id = event.id;
  const idLength = Buffer.byteLength(id);
  const uuid = delimited(idLength);
  const name = event.stream.nameBytes;
  const identifier = delimited(name.length);
  const values = [event.type, event.contentType, `${event.createdMs}0000`];
  const valueLengths = values.map((value) => Buffer.byteLength(value));
  const entries = METADATA_KEYS.map((key, i) => delimited(key.length) + delimited(valueLengths[i]));
  const data = event.data;
  const metadata = event.metadata;

  const recorded =
    delimited(uuid) +
    delimited(identifier) +
    1 +
    varintLength(event.revision) +
    2 * (1 + varintLength(event.position)) +
    entries.reduce((sum, entry) => sum + delimited(entry), 0) +
    (metadata.length > 0 ? delimited(metadata.length) : 0) +
    (data.length > 0 ? delimited(data.length) : 0);
  const readEvent = delimited(recorded) + 1 + varintLength(event.position);
  const total = delimited(readEvent);

  const writer = new Writer(Buffer.allocUnsafe(total));
  writer.header(1, readEvent);
  writer.header(1, recorded);
  writer.header(1, uuid);
  writer.string(2, id, idLength);
  writer.header(2, identifier);
  writer.bytes(3, name);
  writer.number(3, event.revision);
  writer.number(4, event.position);
  writer.number(5, event.position);
  METADATA_KEYS.forEach((key, i) => {
    writer.header(6, entries[i]);
    writer.string(1, key, key.length);
    writer.string(2, values[i], valueLengths[i]);
  });
  if (metadata.length > 0) writer.bytes(7, metadata);
  if (data.length > 0) writer.bytes(8, data);
  writer.number(3, event.position);
  if (writer.offset !== total) throw new Error(`encoded ${writer.offset} bytes of ${total}`);
  return writer.buffer;
}

/** The read response for one event with the id in string form (what the client always asks for). */
export function encodedReadEvent(event: StoredEvent): ReadResp {
  return new EncodedReadResp(encodeReadEventBytes(event));
}

/**
 * Encodes the `BatchAppendResp` of a successful append straight into protobuf bytes. Each append of a flood
 * of small appends gets one, and building it from google-protobuf objects (the response, its success, the
 * position, the correlation id, the stream identifier, an Empty) was a sixth of the server's CPU on that path.
 * Errors and structured correlation ids, which are rare, keep the generated classes.
 *
 * Field numbers (streams.proto, shared.proto): BatchAppendResp.correlation_id = 1, success = 3,
 * stream_identifier = 4, stream_position = 5, no_stream = 6, any = 7, stream_exists = 8;
 * Success.current_revision = 1, no_stream = 2, position = 3, no_position = 4;
 * AllStreamPosition.commit_position = 1, prepare_position = 2; UUID.string = 2; StreamIdentifier.stream_name = 3.
 */
import { BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import type { ExpectedState } from './in-memory-log';
import { Writer, delimited, varintLength } from './protobuf-writer';

class EncodedBatchAppendResp extends BatchAppendResp {
  constructor(private readonly encoded: Uint8Array) {
    super();
  }

  override serializeBinary(): Uint8Array {
    return this.encoded;
  }
}

/** Size of a varint field (one-byte tag). */
const numberField = (value: number): number => 1 + varintLength(value);

export function encodedBatchAppendSuccess(
  correlationId: string,
  stream: Buffer,
  expected: ExpectedState,
  /** -1: the stream still does not exist. */
  currentRevision: number,
  /** null: nothing was written. */
  position: number | null,
): BatchAppendResp {
  const idLength = Buffer.byteLength(correlationId);
  const uuid = delimited(idLength);
  const allPosition = position === null ? 0 : numberField(position) * 2;
  const success =
    (currentRevision < 0 ? delimited(0) : numberField(currentRevision)) +
    (position === null ? delimited(0) : delimited(allPosition));
  const identifier = delimited(stream.length);
  const expectedField = expected.kind === 'revision' ? numberField(expected.revision) : delimited(0);
  const total = delimited(uuid) + delimited(success) + delimited(identifier) + expectedField;

  const writer = new Writer(Buffer.allocUnsafe(total));
  writer.header(1, uuid);
  writer.string(2, correlationId, idLength);
  writer.header(3, success);
  if (currentRevision < 0) writer.header(2, 0);
  else writer.number(1, currentRevision);
  if (position === null) writer.header(4, 0);
  else {
    writer.header(3, allPosition);
    writer.number(1, position);
    writer.number(2, position);
  }
  writer.header(4, identifier);
  writer.bytes(3, stream);
  switch (expected.kind) {
    case 'revision':
      writer.number(5, expected.revision);
      break;
    case 'no_stream':
      writer.header(6, 0);
      break;
    case 'any':
      writer.header(7, 0);
      break;
    case 'stream_exists':
      writer.header(8, 0);
      break;
  }
  if (writer.offset !== total) throw new Error(`encoded ${writer.offset} bytes of ${total}`);
  return new EncodedBatchAppendResp(writer.buffer);
}

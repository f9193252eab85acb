import { describe, expect, it } from '@jest/globals';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { AllStreamPosition } from '@eventstore/db-client/generated/shared_pb';
import { BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import { encodedBatchAppendSuccess } from './append-response-encoding';
import type { ExpectedState } from './in-memory-log';
import { streamIdentifierFromName, uuidMessage } from './wire';

const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** The same response built with the generated classes: the reference. */
function reference(stream: string, expected: ExpectedState, revision: number, position: number | null) {
  const success = new BatchAppendResp.Success();
  if (revision < 0) success.setNoStream(new GoogleEmpty());
  else success.setCurrentRevision(String(revision));
  if (position === null) success.setNoPosition(new GoogleEmpty());
  else
    success.setPosition(
      new AllStreamPosition().setCommitPosition(String(position)).setPreparePosition(String(position)),
    );
  const response = new BatchAppendResp()
    .setCorrelationId(uuidMessage(ID, false))
    .setStreamIdentifier(streamIdentifierFromName(stream))
    .setSuccess(success);
  if (expected.kind === 'revision') response.setStreamPosition(String(expected.revision));
  else if (expected.kind === 'no_stream') response.setNoStream(new GoogleEmpty());
  else if (expected.kind === 'any') response.setAny(new GoogleEmpty());
  else response.setStreamExists(new GoogleEmpty());
  return response;
}

describe('encodedBatchAppendSuccess', () => {
  it.each<[string, ExpectedState, number, number | null]>([
    ['orders-1', { kind: 'any' }, 0, 4_096],
    ['ünïcode-ström', { kind: 'no_stream' }, 2, 2 ** 40 + 7],
    ['s', { kind: 'revision', revision: 300 }, 301, null],
    ['s', { kind: 'stream_exists' }, -1, null],
  ])('reads back as the generated response (%s, %j, %d, %s)', (stream, expected, revision, position) => {
    const encoded = encodedBatchAppendSuccess(ID, Buffer.from(stream), expected, revision, position);
    const decoded = BatchAppendResp.deserializeBinary(encoded.serializeBinary());
    expect(decoded.toObject()).toEqual(reference(stream, expected, revision, position).toObject());
  });
});

import { describe, expect, it } from '@jest/globals';
import { Empty, StreamIdentifier } from '@eventstore/db-client/generated/shared_pb';
import { AppendReq, BatchAppendReq } from '@eventstore/db-client/generated/streams_pb';
import {
  InvalidRequest,
  decodeAppendRequest,
  decodeBatchAppendRequest,
  decodeProposedMessage,
} from './append-request-decoding';
import { uuidMessage } from './wire';

const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const OTHER = 'ffffffff-0000-4000-8000-00000000ffff';

function batchMessage(
  id: string,
  structured: boolean,
  fields: { type?: string; contentType?: string; data?: Uint8Array; metadata?: Uint8Array } = {},
): BatchAppendReq.ProposedMessage {
  const message = new BatchAppendReq.ProposedMessage().setId(uuidMessage(id, structured));
  if (fields.type !== undefined) message.getMetadataMap().set('type', fields.type);
  if (fields.contentType !== undefined) message.getMetadataMap().set('content-type', fields.contentType);
  if (fields.data) message.setData(fields.data);
  if (fields.metadata) message.setCustomMetadata(fields.metadata);
  return message;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('append request decoding', () => {
  it('reads a batch as the generated classes would: correlation id, options, final flag and events', () => {
    const options = new BatchAppendReq.Options()
      .setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from('orders-1')))
      .setStreamPosition('41');
    const request = new BatchAppendReq()
      .setCorrelationId(uuidMessage(OTHER, true))
      .setOptions(options)
      .setIsFinal(true)
      .setProposedMessagesList([
        batchMessage(ID, false, {
          type: 'Placed',
          contentType: 'application/json',
          data: Buffer.from('{"n":1}'),
          metadata: Buffer.from('{"m":"é"}'),
        }),
        batchMessage(OTHER, true, { type: 'Ünïcode', contentType: 'application/octet-stream' }),
      ]);
    const decoded = decodeBatchAppendRequest(Buffer.from(request.serializeBinary()));
    expect(decoded.correlationId).toBe(OTHER);
    expect(decoded.correlationStructured).toBe(true);
    expect(decoded.isFinal).toBe(true);
    expect(decoded.options?.getStreamPosition()).toBe('41');
    expect(Buffer.from(decoded.options!.getStreamIdentifier()!.getStreamName_asU8()).toString()).toBe(
      'orders-1',
    );
    const events = [...decoded.proposedMessages()];
    expect(events.map(({ id, type, contentType }) => ({ id, type, contentType }))).toEqual([
      { id: ID, type: 'Placed', contentType: 'application/json' },
      { id: OTHER, type: 'Ünïcode', contentType: 'application/octet-stream' },
    ]);
    expect(text(events[0].data)).toBe('{"n":1}');
    expect(text(events[0].metadata)).toBe('{"m":"é"}');
    expect(events[1].data).toHaveLength(0);
    expect(events[1].metadata).toHaveLength(0);
  });

  it('decodes a batch’s events only as they are taken: a bad event after the consumer stops costs nothing', () => {
    const request = new BatchAppendReq()
      .setCorrelationId(uuidMessage(ID, false))
      .setProposedMessagesList([
        batchMessage(ID, false, { type: 'a', contentType: 'application/json' }),
        batchMessage(OTHER, false, { contentType: 'application/json' }),
      ]);
    const decoded = decodeBatchAppendRequest(Buffer.from(request.serializeBinary()));
    expect(decoded.isFinal).toBe(false);
    expect(decoded.options).toBeUndefined();
    expect(decoded.proposedCount).toBe(2);
    const events = decoded.proposedMessages();
    expect(events.next().value).toMatchObject({ id: ID, type: 'a' });
    let failure: unknown;
    try {
      events.next();
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(InvalidRequest);
    expect((failure as InvalidRequest).exception).toBe('missing-required-metadata-property');
  });

  it('reads a unary append’s options and its proposed event', () => {
    const options = new AppendReq.Options()
      .setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from('s')))
      .setNoStream(new Empty());
    const withOptions = decodeAppendRequest(
      Buffer.from(new AppendReq().setOptions(options).serializeBinary()),
    );
    expect(withOptions.proposed).toBeUndefined();
    expect(withOptions.options?.hasNoStream()).toBe(true);

    const message = new AppendReq.ProposedMessage().setId(uuidMessage(ID, true)).setData(Buffer.from('x'));
    message.getMetadataMap().set('type', 't').set('content-type', 'application/octet-stream');
    const withEvent = decodeAppendRequest(
      Buffer.from(new AppendReq().setProposedMessage(message).serializeBinary()),
    );
    expect(withEvent.options).toBeUndefined();
    expect(withEvent.proposed?.()).toMatchObject({
      id: ID,
      type: 't',
      contentType: 'application/octet-stream',
    });
  });

  it('refuses an event without an id, and bytes that end inside a field', () => {
    const noId = new BatchAppendReq.ProposedMessage();
    noId.getMetadataMap().set('type', 't').set('content-type', 'application/json');
    expect(() => decodeProposedMessage(noId.serializeBinary())).toThrow('missing UUID');
    const whole = Buffer.from(batchMessage(ID, false, { type: 't', contentType: 'c' }).serializeBinary());
    expect(() => decodeProposedMessage(whole.subarray(0, whole.length - 3))).toThrow('truncated field');
  });
});

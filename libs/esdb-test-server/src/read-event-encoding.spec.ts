import { describe, expect, it } from '@jest/globals';
import { ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { InMemoryLog } from './in-memory-log';
import { encodeReadEventBytes } from './read-event-encoding';
import { buildReadEventMessage } from './wire';

describe('the fast ReadResp encoder', () => {
  it('produces what google-protobuf produces, for every shape of event', () => {
    const log = new InMemoryLog({ firstPosition: 123_456_789_012, clock: () => 1_708_076_467_123 });
    const big = Buffer.alloc(300_000, 0x61);
    log.append('s', { kind: 'any' }, [
      {
        id: '6f1c1a52-8a43-4a3f-9d0e-0c7f2b7e9a11',
        type: 't',
        contentType: 'application/json',
        data: Buffer.from('{"a":1}'),
        metadata: new Uint8Array(0),
      },
      {
        id: '0e8a7f55-1f7b-4b8e-8d87-1f5e3c3b2a10',
        type: 'ünïcødé-type',
        contentType: 'application/json',
        data: new Uint8Array(0),
        metadata: Buffer.from('{"m":"ü"}'),
      },
      {
        id: 'a3b1c2d4-0000-4000-8000-000000000001',
        type: 'big',
        contentType: 'application/octet-stream',
        data: big,
        metadata: big,
      },
    ]);
    log.append(`stream-with-a-${'long-'.repeat(40)}name`, { kind: 'no_stream' }, [
      {
        id: 'a3b1c2d4-0000-4000-8000-000000000002',
        type: 'x',
        contentType: 'application/json',
        data: Buffer.from('{}'),
        metadata: new Uint8Array(0),
      },
    ]);
    for (const event of log.all) {
      const fast = ReadResp.deserializeBinary(encodeReadEventBytes(event));
      const reference = ReadResp.deserializeBinary(buildReadEventMessage(event, false).serializeBinary());
      expect(fast.toObject()).toEqual(reference.toObject());
    }
  });
});

import { toStoredEvent } from '@ledger/event-store';
import { referenceLeafBytes, referenceLeafHash } from '../../../test/support/merkle-reference';
import { leafBytes, leafHashOf, storedLeafText } from './leaf-bytes';
import { toHex } from './merkle-hash';

describe('leaf bytes', () => {
  const event = {
    eventId: '0b8f5e0e-3c1d-4a57-9d7e-2f1f3c5b6a10',
    stream: 'views-3',
    revision: 12n,
    type: 'MediaViewed',
    data: { viewerId: 'user-é"\n', deviceId: 'cam-1', n: 3, nested: { b: 1, a: [true, null] } },
    metadata: { idempotency: { key: 'k' } },
    position: { commit: 18446744073709551615n, prepare: 18446744073709551614n },
  };

  it('are the documented text: envelope in fixed order, data and metadata in stored member order, big positions exact', () => {
    expect(leafBytes(event).toString('utf8')).toBe(
      '{"eventId":"0b8f5e0e-3c1d-4a57-9d7e-2f1f3c5b6a10","stream":"views-3","revision":"12","type":"MediaViewed",' +
        '"position":{"commit":"18446744073709551615","prepare":"18446744073709551614"},' +
        '"data":{"viewerId":"user-é\\"\\n","deviceId":"cam-1","n":3,"nested":{"b":1,"a":[true,null]}},' +
        '"metadata":{"idempotency":{"key":"k"}}}',
    );
    expect(leafBytes(event).equals(referenceLeafBytes(event))).toBe(true);
  });

  it('hash as SHA-256(0x00 ‖ bytes), by the fast path and the reference alike', () => {
    expect(toHex(leafHashOf(event))).toBe(referenceLeafHash(referenceLeafBytes(event)));
    const edited = { ...event, data: { ...event.data, viewerId: 'user-mallory' } };
    expect(toHex(leafHashOf(edited))).not.toBe(toHex(leafHashOf(event)));
  });

  it('have not changed since heads were first signed: this leaf hash was computed by the first release', () => {
    expect(toHex(leafHashOf(event))).toBe('921e3e9e41988c8b9bb6e0831dd7c29f907aec64324a9f6f7e2d8eb0e81e67af');
  });

  it('are the same from the stored text as from the parsed event', () => {
    const stored = toStoredEvent(event);
    expect(storedLeafText(stored)).toBe(leafBytes(event).toString('utf8'));
    expect(leafHashOf(stored).equals(leafHashOf(event))).toBe(true);
  });
});

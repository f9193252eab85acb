import fc from 'fast-check';
import { detached, readViewKeys, type ViewKeys } from './view-keys';

const KEYS = ['viewerId', 'deviceId', 'occurredAt'] as const;

/** Text that stresses the scan: quotes, backslashes, the key names themselves, separators, braces. */
const tricky = fc.oneof(
  fc.string(),
  fc.constantFrom('"viewerId":"x"', ',"deviceId":', '{', '[', '\\', '"', 'a\\"b', '\u2028', 'é☃'),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/),
);
const value = fc.oneof(
  tricky,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(tricky, { maxLength: 2 }),
);

/** A view-like object: the three keys usually present as plain ids, mixed with other keys in any order. */
const viewLike = fc
  .record({
    viewerId: fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), value), { nil: undefined }),
    deviceId: fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), value), { nil: undefined }),
    occurredAt: fc.option(fc.oneof(fc.constant('2024-02-16T09:41:07.123Z'), value), { nil: undefined }),
    extra: fc.dictionary(fc.oneof(tricky, fc.constantFrom(...KEYS, 'mediaId', 'nested')), value, {
      maxKeys: 4,
    }),
    nested: fc.option(fc.record({ viewerId: fc.string() }), { nil: undefined }),
  })
  .map(({ extra, ...keys }) => ({ ...extra, ...keys }));

describe('readViewKeys', () => {
  it('either reads exactly what JSON.parse reads, or declines (property)', () => {
    fc.assert(
      fc.property(viewLike, fc.constantFrom(0, 1), (object, spaced) => {
        const json = spaced ? JSON.stringify(object, null, 1) : JSON.stringify(object);
        const keys: ViewKeys = { viewerId: '', deviceId: '', occurredAt: '' };
        const parsed = JSON.parse(json) as Record<string, unknown>;
        if (readViewKeys(json, keys)) {
          expect(keys).toEqual({
            viewerId: parsed.viewerId,
            deviceId: parsed.deviceId,
            occurredAt: parsed.occurredAt,
          });
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('reads a view as the ledger stores it', () => {
    const view = {
      viewerId: 'user-7',
      deviceId: 'cam-1',
      mediaId: 'cam-1.evt-9',
      mediaType: 'thumbnail',
      action: 'opened',
      servedBy: 'media-svc-1',
      occurredAt: '2024-02-16T09:41:07.123Z',
      recordedAt: '2024-02-16T09:41:08.000Z',
    };
    const keys: ViewKeys = { viewerId: '', deviceId: '', occurredAt: '' };
    expect(readViewKeys(JSON.stringify(view), keys)).toBe(true);
    expect(keys).toEqual({ viewerId: 'user-7', deviceId: 'cam-1', occurredAt: '2024-02-16T09:41:07.123Z' });
  });

  it.each([
    ['a duplicate key', '{"viewerId":"a","deviceId":"d","occurredAt":"t","viewerId":"b"}'],
    ['an escaped value', '{"viewerId":"a\\u0041","deviceId":"d","occurredAt":"t"}'],
    ['a nested object', '{"x":{"viewerId":"a"},"viewerId":"b","deviceId":"d","occurredAt":"t"}'],
    ['a key inside a string', '{"m":"\\",\\"viewerId\\":\\"a","deviceId":"d","occurredAt":"t"}'],
    ['a value that is not a string', '{"viewerId":7,"deviceId":"d","occurredAt":"t"}'],
    ['whitespace', '{"viewerId": "a","deviceId":"d","occurredAt":"t"}'],
  ])('declines %s', (_what, json) => {
    expect(readViewKeys(json, { viewerId: '', deviceId: '', occurredAt: '' })).toBe(false);
  });
});

describe('detached', () => {
  it('keeps the text', () => {
    fc.assert(fc.property(fc.string(), (text) => expect(detached(text)).toBe(text)));
  });
});

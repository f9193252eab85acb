import fc from 'fast-check';
import { detached, emptyViewKeys, readViewKeys } from './view-keys';

const KEYS = ['viewerId', 'deviceId', 'occurredAt', 'mediaId', 'mediaType', 'action'] as const;

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
const id = fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/);
const field = (usual: fc.Arbitrary<string>) =>
  fc.option(fc.oneof({ weight: 6, arbitrary: usual }, { weight: 1, arbitrary: value }), {
    nil: undefined,
    freq: 12,
  });
const viewLike = fc
  .record({
    viewerId: field(id),
    deviceId: field(id),
    occurredAt: field(fc.constant('2024-02-16T09:41:07.123Z')),
    mediaId: field(id),
    mediaType: field(fc.constantFrom('thumbnail', 'event_video')),
    action: field(fc.constantFrom('delivered', 'played')),
    extra: fc.dictionary(
      fc.oneof(tricky, fc.constantFrom(...KEYS, 'nested')),
      fc.oneof({ weight: 4, arbitrary: id }, { weight: 1, arbitrary: value }),
      { maxKeys: 3 },
    ),
    nested: fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.record({ viewerId: fc.string() }) },
    ),
  })
  .map(({ extra, ...keys }) => ({ ...extra, ...keys }));

describe('readViewKeys', () => {
  it('either reads exactly what JSON.parse reads, or declines (property)', () => {
    let read = 0;
    fc.assert(
      fc.property(viewLike, fc.constantFrom(0, 0, 0, 1), (object, spaced) => {
        const json = spaced ? JSON.stringify(object, null, 1) : JSON.stringify(object);
        const keys = emptyViewKeys();
        const parsed = JSON.parse(json) as Record<string, unknown>;
        if (readViewKeys(json, keys)) {
          read++;
          expect(keys).toEqual(Object.fromEntries(KEYS.map((key) => [key, parsed[key]])));
        }
      }),
      { numRuns: 3000 },
    );
    // The property must exercise the fast read, not only its refusals.
    expect(read).toBeGreaterThan(300);
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
    const keys = emptyViewKeys();
    expect(readViewKeys(JSON.stringify(view), keys)).toBe(true);
    const { servedBy: _servedBy, recordedAt: _recordedAt, ...wanted } = view;
    expect(keys).toEqual(wanted);
  });

  const rest = '"deviceId":"d","occurredAt":"t","mediaId":"m","mediaType":"thumbnail","action":"opened"';
  it.each([
    ['an escaped value', `{"viewerId":"a\\u0041",${rest}}`],
    ['a nested object', `{"x":{"viewerId":"a"},"viewerId":"b",${rest}}`],
    ['a key inside a string', `{"m":"\\",\\"viewerId\\":\\"a",${rest}}`],
    ['a value that is not a string', `{"viewerId":7,${rest}}`],
    ['whitespace', `{"viewerId": "a",${rest}}`],
    ['a missing field', `{${rest}}`],
    ['trailing text', `{"viewerId":"a",${rest}}x`],
  ])('declines %s', (_what, json) => {
    expect(readViewKeys(json, emptyViewKeys())).toBe(false);
  });

  it('keeps the last of repeated keys, as JSON.parse does', () => {
    const keys = emptyViewKeys();
    expect(readViewKeys(`{"viewerId":"a",${rest},"viewerId":"b"}`, keys)).toBe(true);
    expect(keys.viewerId).toBe('b');
  });
});

describe('detached', () => {
  it('keeps the text', () => {
    fc.assert(fc.property(fc.string(), (text) => expect(detached(text)).toBe(text)));
  });
});

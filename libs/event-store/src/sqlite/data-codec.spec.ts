import { describe, expect, it } from '@jest/globals';
import { DataCodec, encodeData, MAX_SHAPES, PageDecoder, type ShapeText } from './data-codec';

/** A codec over an in-memory shape table, interning as the writer does. */
function codecWithTable(): {
  codec: DataCodec;
  code: (text: string, fold?: boolean) => string;
  shapes: ShapeText[];
} {
  const shapes: ShapeText[] = [];
  const codec = new DataCodec(() => shapes.map((shape, i) => [i + 1, shape] as const));
  const code = (text: string, fold = true): string => {
    const encoded = encodeData(text, fold);
    if (encoded === null) return codec.codedText(text, null, null);
    let id = shapes.indexOf(encoded.shape) + 1;
    if (id === 0) id = shapes.push(encoded.shape);
    return codec.codedText(text, encoded, id);
  };
  return { codec, code, shapes };
}

const VIEW = JSON.stringify({
  viewerId: 'user-0000003',
  deviceId: 'cam-0000001',
  mediaId: 'cam-0000001.evt-1',
  mediaType: 'thumbnail',
  action: 'delivered',
  servedBy: 'media-svc-1',
  occurredAt: '2024-02-15T10:00:00.001Z',
  recordedAt: '2024-02-16T10:00:00.000Z',
});

const TEXTS: readonly string[] = [
  VIEW,
  JSON.stringify({
    deviceId: 'cam-1',
    ownerId: 'user-1',
    actor: 'svc:bench',
    occurredAt: '2024-01-17T10:00:00.000Z',
  }),
  JSON.stringify({ n: 1, f: -2.5e-7, t: true, z: null, s: 'x' }),
  JSON.stringify({
    quote: 'a "quoted" \\ back\\slash',
    nl: 'line\nbreak\u001f\u001e',
    uni: 'ünï-😀',
    lone: '\ud800',
  }),
  JSON.stringify({ nested: { a: 1 }, list: [1, 2] }),
  JSON.stringify({ 'key "with" quotes': 'v', '': 'empty key', e: '' }),
  JSON.stringify({
    notTime: '2024-02-16T10:00:00Z',
    offset: '2024-02-16T10:00:00.000+01:00',
    y10k: '+010000-01-01T00:00:00.000Z',
  }),
  JSON.stringify({
    before1970: '1969-12-31T23:59:59.999Z',
    epoch: '1970-01-01T00:00:00.000Z',
    far: '9999-12-31T23:59:59.999Z',
  }),
  JSON.stringify({ a: 'abcd', b: 'abcdef', c: 'abcd' }),
  JSON.stringify({
    feb30: '2024-02-30T10:00:00.000Z',
    hour24: '2024-02-16T24:00:00.000Z',
    leap: '2024-02-29T23:59:59.999Z',
  }),
  JSON.stringify({ year0: '0000-01-01T00:00:00.000Z', y1969: '1969-07-20T20:17:40.000Z' }),
  JSON.stringify({ only: 'thumbnail' }),
  '{}',
  '{"a": 1}',
  '{\n "a": "spaced"\n}',
  '{"a":"x","a":"duplicate key"}',
  '\u0001 text that begins where a shape character would',
  '\u0080 text that begins past ASCII',
  '\n text that begins with a newline',
  '\u001e begins with the verbatim mark',
  'not json at all',
];

describe('the data codec (schema version 2)', () => {
  it('gives back every text exactly, coded or kept verbatim', () => {
    const { codec, code } = codecWithTable();
    for (const fold of [true, false]) {
      for (const text of TEXTS) {
        const stored = code(text, fold);
        expect({ text, back: codec.decode(stored) }).toEqual({ text, back: text });
        // As the bulk read sees it: a slice of a longer line.
        const line = `12,abc,${stored}\n`;
        expect(codec.decodeRange(line, 7, line.length - 1)).toBe(text);
      }
    }
  });

  it('decodes a page of rows into slices of one string, each exactly its text', () => {
    const { codec, code } = codecWithTable();
    const pages = new PageDecoder(codec);
    const texts = [...TEXTS, ...TEXTS.map((text) => text.replace('a', 'ā'))];
    for (let round = 0; round < 2; round++) {
      const stored = texts.map((text) => code(text));
      const line = stored.join('\n');
      let at = 0;
      for (const value of stored) {
        pages.add(line, at, at + value.length);
        at += value.length + 1;
      }
      const decoded: string[] = ['already there'];
      pages.finish(decoded);
      expect(decoded).toEqual(['already there', ...texts]);
    }
  });

  it('codes a view to a fraction of its JSON, in ASCII, with its enums in the shape', () => {
    const { codec, code, shapes } = codecWithTable();
    const stored = code(VIEW);
    expect([...stored].every((ch) => ch.charCodeAt(0) > 0 && ch.charCodeAt(0) < 0x7f)).toBe(true);
    expect(Buffer.byteLength(stored)).toBeLessThan(Buffer.byteLength(VIEW) / 3);
    expect(shapes).toHaveLength(1);
    expect(shapes[0]).toContain('thumbnail');
    expect(stored).not.toContain('cam-0000001.evt-1');
    expect(codec.decode(stored)).toBe(VIEW);
  });

  it('reads shapes it does not know from the table again', () => {
    const shapes: ShapeText[] = [];
    const reader = new DataCodec(() => shapes.map((shape, i) => [i + 1, shape] as const));
    const writer = new DataCodec(() => shapes.map((shape, i) => [i + 1, shape] as const));
    const encoded = encodeData(VIEW, true)!;
    shapes.push(encoded.shape);
    const stored = writer.codedText(VIEW, encoded, 1);
    expect(reader.decode(stored)).toBe(VIEW);
    expect(() => reader.decode('\u0001\u0027')).toThrow(/shape 7/);
  });

  it('names every shape id in two characters, none of them a newline', () => {
    const shapes: ShapeText[] = [];
    const codec = new DataCodec(() => shapes.map((shape, i) => [i + 1, shape] as const));
    for (const id of [1, 94, 95, 8 * 95, 9 * 95, 9 * 95 + 1, 10 * 95, MAX_SHAPES - 1]) {
      const text = JSON.stringify({ [`k${id}`]: 'v-1' });
      const encoded = encodeData(text, true)!;
      shapes[id - 1] = encoded.shape;
      const stored = codec.codedText(text, encoded, id);
      expect({ id, stored: stored.slice(0, 2).includes('\n'), back: codec.decode(stored) }).toEqual({
        id,
        stored: false,
        back: text,
      });
      expect(stored.length).toBe(2 + 'v-1'.length);
    }
  });

  it('keeps a row verbatim when its shape id has no character', () => {
    const { codec } = codecWithTable();
    const encoded = encodeData(VIEW, true)!;
    expect(codec.codedText(VIEW, encoded, MAX_SHAPES)).toBe(VIEW);
  });
});

import { canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  const cases: Array<[string, unknown, string]> = [
    [
      'sorts keys at every depth',
      { b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } },
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    ],
    ['has no whitespace', { list: [1, 2], text: 'a b' }, '{"list":[1,2],"text":"a b"}'],
    [
      'prints numbers as JavaScript does',
      [1, 1.5, -0.25, 1e21, 0.1 + 0.2],
      '[1,1.5,-0.25,1e+21,0.30000000000000004]',
    ],
    [
      'escapes strings as JSON',
      ['"q"', 'line\nbreak', 'é', '\u2028'],
      '["\\"q\\"","line\\nbreak","é","\u2028"]',
    ],
    ['omits undefined members, nulls undefined items', { a: undefined, b: [undefined] }, '{"b":[null]}'],
    [
      'orders keys by code unit',
      { b: 0, B: 0, a: 0, _: 0, '10': 0, '9': 0 },
      '{"10":0,"9":0,"B":0,"_":0,"a":0,"b":0}',
    ],
    [
      'keeps booleans and empty containers',
      { t: true, f: false, o: {}, l: [] },
      '{"f":false,"l":[],"o":{},"t":true}',
    ],
  ];

  it.each(cases)('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('gives equal text for equal values built in different key orders', () => {
    expect(canonicalJson({ x: 1, y: { p: 1, q: 2 } })).toBe(canonicalJson({ y: { q: 2, p: 1 }, x: 1 }));
  });

  it('refuses values JSON cannot hold exactly', () => {
    expect(() => canonicalJson({ n: NaN })).toThrow(TypeError);
    expect(() => canonicalJson([Infinity])).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});

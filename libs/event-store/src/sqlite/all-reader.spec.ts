import { compileFilter, hasLoneSurrogate, prefixUpperBound } from './all-reader';

/** SQLite's BINARY collation compares UTF-8 bytes, which is code point order. */
function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

describe('prefixUpperBound', () => {
  it.each([
    ['device-', 'device.'],
    ['a', 'b'],
    ['é', 'ê'],
    ['x\u{d7ff}', 'x\u{e000}'],
    ['x\u{ffff}', 'x\u{10000}'],
    ['ab\u{10ffff}', 'ac'],
    ['a😀', 'a😁'],
  ])('the bound of %j is %j', (prefix, bound) => {
    expect(prefixUpperBound(prefix)).toBe(bound);
  });

  it('has no bound when every code point is the last one', () => {
    expect(prefixUpperBound('\u{10ffff}\u{10ffff}')).toBeNull();
  });

  it('puts exactly the strings with the prefix inside [prefix, bound) in code point order', () => {
    const prefixes = ['dev', 'd\u{d7ff}', 'z\u{ffff}', 'a😀', 'q\u{10ffff}'];
    const suffixes = ['', 'a', '\u{0}', '\u{7f}', '\u{ffff}', '\u{e000}', '😀', '\u{10ffff}x'];
    const probes = new Set<string>();
    for (const prefix of prefixes) {
      for (const suffix of suffixes) {
        probes.add(prefix + suffix);
        probes.add(Array.from(prefix).slice(0, -1).join('') + suffix);
        const bound = prefixUpperBound(prefix);
        if (bound !== null) probes.add(bound + suffix);
      }
    }
    for (const prefix of prefixes) {
      const bound = prefixUpperBound(prefix);
      for (const probe of probes) {
        const inRange = utf8Compare(probe, prefix) >= 0 && (bound === null || utf8Compare(probe, bound) < 0);
        expect([probe, inRange]).toEqual([probe, probe.startsWith(prefix)]);
      }
    }
  });
});

describe('compileFilter', () => {
  it('is null when the filter restricts nothing', () => {
    expect(compileFilter(undefined)).toBeNull();
    expect(compileFilter({})).toBeNull();
    expect(compileFilter({ streamPrefixes: [], eventTypes: [] })).toBeNull();
    expect(compileFilter({ streamPrefixes: ['', 'device-'] })).toBeNull();
  });

  it('drops prefixes covered by shorter ones and repeated types', () => {
    const filter = compileFilter({
      streamPrefixes: ['device-1', 'device-', 'view-', 'device-22'],
      eventTypes: ['a', 'b', 'a'],
    });
    expect(filter?.prefixes.map((range) => range.prefix)).toEqual(['device-', 'view-']);
    expect(filter?.types).toEqual(['a', 'b']);
  });

  it('matches a stream and type as the SQL filter does', () => {
    const filter = compileFilter({ streamPrefixes: ['device-', 'view-'], eventTypes: ['granted'] });
    expect(filter?.matches('device-7', 'granted')).toBe(true);
    expect(filter?.matches('view-7', 'granted')).toBe(true);
    expect(filter?.matches('device-7', 'revoked')).toBe(false);
    expect(filter?.matches('user-7', 'granted')).toBe(false);
    expect(compileFilter({ eventTypes: ['x'] })?.matches('anything', 'x')).toBe(true);
  });

  it('refuses a prefix that is not well-formed Unicode', () => {
    expect(hasLoneSurrogate('a\u{d800}')).toBe(true);
    expect(hasLoneSurrogate('a😀')).toBe(false);
    expect(() => compileFilter({ streamPrefixes: ['a\u{d800}'] })).toThrow(RangeError);
  });
});

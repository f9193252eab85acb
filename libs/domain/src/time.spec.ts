import fc from 'fast-check';
import { formatTime, MAX_TIME, MIN_TIME, parseRfc3339 } from './time';

const at = (text: string) => parseRfc3339(text);

describe('RFC 3339 times: the edges of the contract', () => {
  it('accepts the years 0000–9999 in the proleptic Gregorian calendar, 0000-02-29 included', () => {
    expect(at('0000-02-29T12:00:00.000Z')).toBe(Date.parse('0000-02-29T12:00:00.000Z'));
    expect(formatTime(at('0000-02-29T12:00:00.000Z')!)).toBe('0000-02-29T12:00:00.000Z');
    expect(at('0000-01-01T00:00:00.000Z')).toBe(MIN_TIME);
    expect(at('9999-12-31T23:59:59.999Z')).toBe(MAX_TIME);
    expect(at('0099-03-01T00:00:00Z')).toBe(Date.parse('0099-03-01T00:00:00.000Z'));
    // 1900 and 0100 are not leap years; 2000 and 0400 are.
    expect(at('1900-02-29T00:00:00Z')).toBeUndefined();
    expect(at('0100-02-29T00:00:00Z')).toBeUndefined();
    expect(at('2000-02-29T00:00:00Z')).toBeDefined();
    expect(at('0400-02-29T00:00:00Z')).toBeDefined();
  });

  it('refuses a time whose UTC instant falls outside 0000–9999, whatever its written year', () => {
    expect(at('0000-01-01T00:59:00+01:00')).toBeUndefined();
    expect(at('0000-01-01T00:00:00.000+00:01')).toBeUndefined();
    expect(at('9999-12-31T23:00:00-01:00')).toBeUndefined();
    expect(at('0000-01-01T01:00:00+01:00')).toBe(MIN_TIME);
    expect(at('9999-12-31T22:59:59.999-01:00')).toBe(MAX_TIME);
  });

  it('reads a leap second where RFC 3339 allows one as the last millisecond before it, and refuses it elsewhere', () => {
    expect(formatTime(at('2016-12-31T23:59:60.000Z')!)).toBe('2016-12-31T23:59:59.999Z');
    expect(formatTime(at('2016-12-31T23:59:60.750Z')!)).toBe('2016-12-31T23:59:59.999Z');
    expect(formatTime(at('2015-06-30T23:59:60Z')!)).toBe('2015-06-30T23:59:59.999Z');
    // The same leap second written in another offset.
    expect(formatTime(at('2016-12-31T15:59:60.5-08:00')!)).toBe('2016-12-31T23:59:59.999Z');
    // Order is kept against every stamp outside it.
    expect(at('2016-12-31T23:59:59.998Z')!).toBeLessThan(at('2016-12-31T23:59:60.000Z')!);
    expect(at('2016-12-31T23:59:60.999Z')!).toBeLessThan(at('2017-01-01T00:00:00.000Z')!);
    for (const notAtMonthEnd of ['2016-12-30T23:59:60Z', '2016-12-31T23:58:60Z', '2016-12-31T12:00:60Z'])
      expect(at(notAtMonthEnd)).toBeUndefined();
    expect(at('2016-12-31T23:59:61Z')).toBeUndefined();
  });

  it('refuses what is not RFC 3339: bad offsets, days, hours and shapes', () => {
    for (const text of [
      '2024-02-16T09:41:07.123+24:00',
      '2024-02-16T09:41:07.123+01:60',
      '2024-02-30T00:00:00Z',
      '2024-02-16T24:00:00Z',
      '2024-02-16 09:41:07Z',
      '+010000-01-01T00:00:00.000Z',
      '-000001-12-31T23:59:00.000Z',
      '2024-02-16T09:41:07',
    ])
      expect({ text, ms: at(text) }).toEqual({ text, ms: undefined });
  });

  it('every accepted time is written in the output form, and every output parses back to the same instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_TIME, max: MAX_TIME }), (ms) => {
        expect(at(formatTime(ms))).toBe(ms);
      }),
    );
    fc.assert(
      fc.property(
        fc.date({ min: new Date(MIN_TIME - 86_400_000), max: new Date(MAX_TIME + 86_400_000) }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (date, offsetMinutes) => {
          if (Number.isNaN(date.getTime())) return;
          const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString();
          if (!/^\d{4}-/.test(local)) return; // the written year itself is outside 0000–9999
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const ms = at(local.replace('Z', offset));
          const inRange = date.getTime() >= MIN_TIME && date.getTime() <= MAX_TIME;
          expect(ms).toBe(inRange ? date.getTime() : undefined);
          if (ms !== undefined) expect(at(formatTime(ms))).toBe(ms);
        },
      ),
    );
  });
});

describe('formatTime', () => {
  it('gives each instant its own text, whatever was formatted just before (it keeps the last one)', () => {
    const instants = [0, 1_708_076_467_123, 1_708_076_467_123, 1_708_076_467_124, 0, -1, 253_402_300_799_999];
    expect(instants.map(formatTime)).toEqual(instants.map((ms) => new Date(ms).toISOString()));
    expect(() => formatTime(Number.NaN)).toThrow(RangeError);
  });
});

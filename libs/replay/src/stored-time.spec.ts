import fc from 'fast-check';
import { parseStoredTime } from './stored-time';

describe('parseStoredTime', () => {
  it('equals Date.parse on every canonical time', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        (date) => {
          const text = date.toISOString();
          expect(parseStoredTime(text)).toBe(Date.parse(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('equals Date.parse on other and broken forms', () => {
    const alphabet = fc.constantFrom(...'0123456789-:.TZ+ x'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, minLength: 20, maxLength: 28 }), (text) => {
        expect(Object.is(parseStoredTime(text), Date.parse(text))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    for (const text of [
      '2024-02-16T09:41:07.123Z',
      '2024-02-29T23:59:59.999Z',
      '2023-02-29T00:00:00.000Z',
      '2024-13-01T00:00:00.000Z',
      '2024-02-16T24:00:00.000Z',
      '2024-02-16T09:41:07Z',
      '2024-02-16T10:41:07.123+01:00',
      '1969-12-31T23:59:59.999Z',
      '2024-0a-16T09:41:07.123Z',
    ]) {
      expect(Object.is(parseStoredTime(text), Date.parse(text))).toBe(true);
    }
  });
});

import { InvalidInputError } from '@ledger/domain';
import { normalizeTrailFilter } from './trail-filter';

describe('normalizeTrailFilter', () => {
  it('keeps given keys only and writes times in the one output form', () => {
    expect(normalizeTrailFilter({ userId: 'alice', from: '2024-02-16T10:41:07+01:00' })).toEqual({
      filter: { userId: 'alice', from: '2024-02-16T09:41:07.000Z' },
      fromMs: Date.UTC(2024, 1, 16, 9, 41, 7),
      toMs: Infinity,
    });
  });

  it.each([
    [{}, 'deviceId'],
    [{ deviceId: 'bad id' }, 'deviceId'],
    [{ userId: '-x' }, 'userId'],
    [{ userId: 'u', from: 'yesterday' }, 'from'],
    [{ userId: 'u', to: '2024-02-30T00:00:00Z' }, 'to'],
    [{ userId: 'u', from: '2024-02-16T10:00:00Z', to: '2024-02-16T09:00:00Z' }, 'to'],
  ])('refuses %j naming %s', (filter, field) => {
    const thrown = (() => {
      try {
        normalizeTrailFilter(filter);
        return null;
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(InvalidInputError);
    expect((thrown as InvalidInputError).field).toBe(field);
  });
});

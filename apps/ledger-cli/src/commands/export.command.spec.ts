import { UsageError } from '../cli-context';
import { exportFormat } from './export.command';

describe('export --format', () => {
  it.each([
    [undefined, undefined, 'ndjson'],
    [undefined, 'trail.ndjson', 'ndjson'],
    [undefined, 'trail.CSV', 'csv'],
    ['ndjson', 'trail.csv', 'ndjson'],
    ['csv', undefined, 'csv'],
  ])('--format %s with --out %s writes %s', (format, out, expected) => {
    expect(exportFormat(format, out)).toBe(expected);
  });

  it('refuses an unknown format as a usage error', () => {
    expect(() => exportFormat('xml', undefined)).toThrow(UsageError);
  });
});

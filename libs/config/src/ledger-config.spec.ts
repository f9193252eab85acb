import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './ledger-config';

describe('LEDGER_IDEMPOTENCY_RETENTION', () => {
  const retention = (value: string | undefined) =>
    loadConfig({ LEDGER_IDEMPOTENCY_RETENTION: value }).idempotencyRetentionMs;

  it('defaults to 24h and reads durations such as 24h, 30m, 90s, 1h30m and 7d', () => {
    expect(retention(undefined)).toBe(86_400_000);
    expect(retention('')).toBe(86_400_000);
    expect(retention('24h')).toBe(86_400_000);
    expect(retention('30m')).toBe(1_800_000);
    expect(retention(' 90s ')).toBe(90_000);
    expect(retention('1h30m')).toBe(5_400_000);
    expect(retention('7d')).toBe(604_800_000);
    expect(retention('1500ms')).toBe(1500);
  });

  it.each([
    ['abc', /must be a duration such as 24h, 30m or 90s, got "abc"/],
    ['24', /must be a duration/],
    ['-5m', /must be a duration/],
    ['1.5h', /must be a duration/],
    ['10 m', /must be a duration/],
    ['0s', /must be between 1s and 366d, got "0s"/],
    ['999ms', /must be between 1s and 366d/],
    ['400d', /must be between 1s and 366d/],
  ])('refuses %j at start-up, naming the variable', (value, message) => {
    let error: unknown;
    try {
      retention(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('LEDGER_IDEMPOTENCY_RETENTION');
    expect((error as Error).message).toMatch(message);
  });
});

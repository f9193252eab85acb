import { ConfigError, loadConfig } from './ledger-config';

const entry = (name: string, key: string) => ({ name, key, scopes: ['ledger:read'] });

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('loadConfig', () => {
  it('refuses two LEDGER_API_KEYS entries with the same name: the name is the idempotency scope and audit actor', () => {
    const error = configError({
      LEDGER_API_KEYS: JSON.stringify([entry('cache', 'k'.repeat(20)), entry('cache', 'j'.repeat(20))]),
    });
    expect(error.variable).toBe('LEDGER_API_KEYS[1].name');
    expect(error.message).toMatch(/"cache" is used by another entry; names must be unique/);
    expect(() =>
      loadConfig({
        LEDGER_API_KEYS: JSON.stringify([entry('cache', 'k'.repeat(20)), entry('media', 'j'.repeat(20))]),
      }),
    ).not.toThrow();
  });

  it('bounds the view batch worker\'s time per batch, 10 s unless LEDGER_VIEW_BATCH_TIMEOUT_MS says', () => {
    expect(loadConfig({}).viewBatchTimeoutMs).toBe(10_000);
    expect(loadConfig({ LEDGER_VIEW_BATCH_TIMEOUT_MS: '2500' }).viewBatchTimeoutMs).toBe(2500);
    for (const value of ['0', '5', 'soon', '600001']) {
      expect(configError({ LEDGER_VIEW_BATCH_TIMEOUT_MS: value }).variable).toBe(
        'LEDGER_VIEW_BATCH_TIMEOUT_MS',
      );
    }
  });

  it('validates the watch feed limits, with defaults', () => {
    expect(loadConfig({}).watch).toEqual({
      maxConnectionsPerKey: 64,
      maxBufferedEvents: 1000,
      maxResumeChanges: 100_000,
    });
    expect(configError({ LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY: '0' }).variable).toBe(
      'LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY',
    );
    expect(configError({ LEDGER_WATCH_MAX_BUFFERED_EVENTS: 'lots' }).variable).toBe(
      'LEDGER_WATCH_MAX_BUFFERED_EVENTS',
    );
    expect(configError({ LEDGER_WATCH_MAX_RESUME_CHANGES: '99999999999' }).variable).toBe(
      'LEDGER_WATCH_MAX_RESUME_CHANGES',
    );
  });
});

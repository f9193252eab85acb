import { ConfigError, loadConfig } from '@ledger/config';

describe('the tree head policy settings', () => {
  it('default to a head every 10,000 events or every hour, and take 0 for never', () => {
    expect(loadConfig({})).toMatchObject({ headEveryEvents: 10_000, headEverySeconds: 3600 });
    expect(loadConfig({ LEDGER_HEAD_EVERY_EVENTS: '0', LEDGER_HEAD_EVERY_SECONDS: '0' })).toMatchObject({
      headEveryEvents: 0,
      headEverySeconds: 0,
    });
  });

  it('refuse what is not a bounded integer, naming the variable', () => {
    for (const [variable, value] of [
      ['LEDGER_HEAD_EVERY_EVENTS', '-1'],
      ['LEDGER_HEAD_EVERY_EVENTS', 'often'],
      ['LEDGER_HEAD_EVERY_SECONDS', '1.5'],
      ['LEDGER_HEAD_EVERY_SECONDS', '604801'],
    ]) {
      expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}: `));
    }
  });
});

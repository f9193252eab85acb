import { ConfigError, loadConfig } from './ledger-config';

describe('GRPC_PORT', () => {
  it('is off unless set', () => {
    expect(loadConfig({}).grpcPort).toBeNull();
    expect(loadConfig({ GRPC_PORT: ' ' }).grpcPort).toBeNull();
  });

  it('takes a port, or 0 for a free one', () => {
    expect(loadConfig({ GRPC_PORT: '50051' }).grpcPort).toBe(50051);
    expect(loadConfig({ GRPC_PORT: '0' }).grpcPort).toBe(0);
  });

  it.each([
    ['abc', 'must be an integer'],
    ['70000', 'must be between 0 and 65535'],
    ['-1', 'must be an integer'],
  ])('refuses %s at start, naming the variable', (value, message) => {
    expect(() => loadConfig({ GRPC_PORT: value })).toThrow(ConfigError);
    expect(() => loadConfig({ GRPC_PORT: value })).toThrow(`GRPC_PORT: ${message}`);
  });

  it('refuses the HTTP port', () => {
    expect(() => loadConfig({ PORT: '3000', GRPC_PORT: '3000' })).toThrow(
      'GRPC_PORT: must differ from PORT (3000)',
    );
  });
});

import { spawnLedger, TEST_API_KEY, type LedgerChild } from '../../../../test/support/ledger-child';
import { tempDataDir, uniqueIds } from '../../../../test/support/ledger-test-app';

interface LogLine {
  level: number;
  msg: string;
  req?: { id: string; method: string; url: string };
  res?: { statusCode: number };
}

function lines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

describe('request logging (Fastify hooks on pino, no per-request context)', () => {
  let child: LedgerChild;
  beforeAll(async () => {
    child = await spawnLedger(tempDataDir('ledger-request-log-'), { LOG_LEVEL: 'debug' });
  });
  afterAll(async () => {
    await child?.kill('SIGKILL');
  });

  async function post(path: string, body: unknown, requestId?: string) {
    return fetch(`${child.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        'content-type': 'application/json',
        ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
      },
      body: JSON.stringify(body),
    });
  }

  it('echoes a sane X-Request-Id, replaces an insane one, and logs each request once at its level', async () => {
    // Unique: under `npm run test:esdb` the service writes to the EventStoreDB server every suite shares.
    const camera = uniqueIds('request-logging')('cam');
    const hotOk = await post('/v1/check', { userId: 'u-1', deviceId: camera }, 'trace-hot-ok');
    expect([hotOk.status, hotOk.headers.get('x-request-id')]).toEqual([200, 'trace-hot-ok']);
    const hotBad = await post('/v1/check', { userId: 'u-1' }, 'trace-hot-bad');
    expect([hotBad.status, hotBad.headers.get('x-request-id')]).toEqual([400, 'trace-hot-bad']);
    const insane = await post('/v1/check', { userId: 'u-1', deviceId: camera }, 'no spaces allowed');
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const cold = await post(
      '/v1/devices',
      { deviceId: camera, ownerId: 'alice', actor: 'svc:p' },
      'trace-cold',
    );
    expect([cold.status, cold.headers.get('x-request-id')]).toEqual([201, 'trace-cold']);

    await new Promise((resolve) => setTimeout(resolve, 300));
    const logged = lines(child.output()).filter((l) => l.req?.id?.startsWith('trace-'));
    const byId = (id: string) => logged.filter((l) => l.req!.id === id);
    expect(byId('trace-hot-ok')).toEqual([
      expect.objectContaining({ level: 20, req: { id: 'trace-hot-ok', method: 'POST', url: '/v1/check' } }),
    ]);
    expect(byId('trace-hot-bad')).toEqual([
      expect.objectContaining({ level: 40, res: expect.objectContaining({ statusCode: 400 }) }),
    ]);
    expect(byId('trace-cold')).toEqual([
      expect.objectContaining({ level: 20, req: { id: 'trace-cold', method: 'POST', url: '/v1/devices' } }),
    ]);
  });
});

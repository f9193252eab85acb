import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort, spawnLedger, TEST_API_KEYS, type LedgerChild } from '../../../test/support/ledger-child';
import { tempDataDir } from '../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '..', '..', '..');

/** Starts the service and waits for it to exit (it is expected not to start). */
async function startExpectingFailure(dataDir: string) {
  const child = spawn(
    process.execPath,
    ['-r', './test/support/register-ts.js', 'apps/ledger-api/src/main.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        LEDGER_DATA_DIR: dataDir,
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
        LEDGER_API_KEYS: TEST_API_KEYS,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

/** Issue #12 finding 4: two services on one LEDGER_DATA_DIR. */
describe('one service per data dir', () => {
  let dataDir: string;
  const running: LedgerChild[] = [];

  beforeAll(() => {
    dataDir = tempDataDir('ledger-one-service-');
  });
  afterAll(async () => {
    for (const child of running) await child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a second service on the same data dir fails fast, naming the first; the first keeps serving', async () => {
    const first = await spawnLedger(dataDir);
    running.push(first);
    const second = await startExpectingFailure(dataDir);
    expect(second.code).toBe(1);
    expect(second.output).toContain(`data dir ${dataDir} is in use by another ledger service`);
    expect(second.output).toContain(`pid ${first.process.pid} on host ${os.hostname()}`);
    expect(second.output).toMatch(/started \d{4}-\d\d-\d\dT/);
    expect(second.output).not.toContain('    at '); // a clear message, not a stack trace
    expect((await fetch(`${first.baseUrl}/health`)).status).toBe(200);
  });

  it('a service killed with -9 leaves no lock behind; one stopped cleanly leaves nothing to take over', async () => {
    const [first] = running.splice(0);
    await first.kill('SIGKILL');
    const next = await spawnLedger(dataDir);
    expect(next.output()).toContain(`took over the data dir from pid ${first.process.pid}`);
    await next.kill('SIGTERM');
    expect(fs.existsSync(path.join(dataDir, 'service.lock.json'))).toBe(false);
    const after = await spawnLedger(dataDir);
    running.push(after);
    expect(after.output()).not.toContain('took over');
  });
});

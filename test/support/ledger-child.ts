import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

export const TEST_API_KEY = 'crash-test-admin-key-0123456789';
export const TEST_API_KEYS = JSON.stringify([
  {
    name: 'admin',
    key: TEST_API_KEY,
    scopes: ['ledger:write', 'ledger:read', 'audit:replay', 'audit:export'],
  },
]);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface LedgerChild {
  readonly process: ChildProcess;
  readonly baseUrl: string;
  readonly output: () => string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** The real service as a child process, on the TypeScript sources, so it can be killed with SIGKILL. */
export async function spawnLedger(dataDir: string, env: Record<string, string> = {}): Promise<LedgerChild> {
  const port = await freePort();
  let output = '';
  const child = spawn(
    process.execPath,
    ['-r', './test/support/register-ts.js', 'apps/ledger-api/src/main.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        LEDGER_DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        LEDGER_API_KEYS: TEST_API_KEYS,
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ledger exited during start:\n${output}`);
    try {
      const response = await fetch(`${baseUrl}/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ledger did not become healthy:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    process: child,
    baseUrl,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as path from 'node:path';

/** Lets the service child load the TypeScript sources when the simulator itself runs from them (tests). */
const REGISTER_TS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'support', 'register-ts.js');

export interface LedgerService {
  readonly baseUrl: string;
  /** Everything the service wrote to stdout and stderr (for failures). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the ledger's HTTP service as it is deployed — its own process, on 127.0.0.1, with the given
 * environment — and waits until it is healthy. The simulator then drives it through HTTP only, as any
 * client does, instead of reaching into the service's modules.
 */
export async function startLedgerService(env: NodeJS.ProcessEnv): Promise<LedgerService> {
  const port = await freePort();
  const compiled = path.extname(__filename) === '.js';
  const args = compiled
    ? [path.resolve(__dirname, '..', '..', '..', 'ledger-api', 'src', 'main.js')]
    : ['-r', REGISTER_TS, path.resolve(__dirname, '..', '..', '..', 'ledger-api', 'src', 'main.ts')];
  let output = '';
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  // A service on a log of millions of events builds its projection before it is ready.
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the ledger service exited during start:\n${output}`);
    try {
      if ((await fetch(`${baseUrl}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the ledger service did not become healthy:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { baseUrl, output: () => output, stop };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

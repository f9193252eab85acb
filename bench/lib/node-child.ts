import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Running from the TypeScript sources (`-r test/support/register-ts.js`) rather than from dist/. */
export const fromSources = path.extname(__filename) === '.ts';
/** Root of the code tree this file was loaded from: the project (sources) or its build output. */
const codeRoot = path.resolve(__dirname, '..', '..');

function findProjectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && fs.existsSync(path.join(dir, 'bench'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

export const projectRoot = findProjectRoot();

/** Node arguments that run a project script, e.g. `bench/children/memory-child`, from sources or dist. */
export function scriptArgs(script: string): string[] {
  return fromSources
    ? [
        '-r',
        path.join(projectRoot, 'test', 'support', 'register-ts.js'),
        path.join(projectRoot, `${script}.ts`),
      ]
    : [path.join(codeRoot, `${script}.js`)];
}

export interface ChildOptions {
  readonly nodeFlags?: readonly string[];
  readonly env?: Record<string, string | undefined>;
  /** Write a `--cpu-prof` profile of the child into this directory. */
  readonly profileDir?: string | null;
  /** Open an IPC channel: `stop()` then asks the child to shut down cleanly (its profile gets written). */
  readonly ipc?: boolean;
  /** Copy the child's stderr (its progress) to ours as it comes. */
  readonly passStderr?: boolean;
}

export function spawnNode(script: string, args: readonly string[], options: ChildOptions = {}): ChildProcess {
  const flags = [...(options.nodeFlags ?? [])];
  if (options.profileDir) flags.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`);
  return spawn(process.execPath, [...flags, ...scriptArgs(script), ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
}

/** Lines a child writes to report to its parent: `RESULT <json>` once done, `READY <json>` once serving. */
const RESULT = 'RESULT ';
const READY = 'READY ';

export function reportResult(value: unknown): void {
  process.stdout.write(`${RESULT}${JSON.stringify(value)}\n`);
}

export function reportReady(value: unknown): void {
  process.stdout.write(`${READY}${JSON.stringify(value)}\n`);
}

/** Runs a child to completion and returns what it reported with `reportResult`. */
export function runChild<T>(script: string, args: readonly string[], options: ChildOptions = {}): Promise<T> {
  const child = spawnNode(script, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-16_000);
    if (options.passStderr) process.stderr.write(chunk);
  });
  return new Promise<T>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT));
      if (code === 0 && line) resolve(JSON.parse(line.slice(RESULT.length)) as T);
      else
        reject(
          new Error(`${script} exited with ${code ?? signal}:\n${stderr.slice(-4000)}${stdout.slice(-2000)}`),
        );
    });
  });
}

export interface RunningChild<T> {
  readonly info: T;
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL after a grace period; resolves once it exited. */
  stop(): Promise<void>;
}

/** Starts a long-running child and waits for its `READY` line. */
export function startChild<T>(
  script: string,
  args: readonly string[],
  options: ChildOptions = {},
): Promise<RunningChild<T>> {
  const child = spawnNode(script, args, options);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send('stop');
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<RunningChild<T>>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith(READY));
      if (line) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({ info: JSON.parse(line.slice(READY.length)) as T, child, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      reject(new Error(`${script} exited with ${code ?? signal} before it was ready:\n${stderr}`)),
    );
  });
}

/** Runs a child to completion; rejects unless it exits 0. */
export function runToExit(
  script: string,
  args: readonly string[],
  options: ChildOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const child = spawnNode(script, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(
            new Error(`${script} ${args.join(' ')} exited with ${code ?? signal}:\n${stderr.slice(-4000)}`),
          ),
    );
  });
}

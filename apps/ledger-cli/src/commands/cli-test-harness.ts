import { Command } from 'commander';
import { loadConfig } from '@ledger/config';
import type { EventStore } from '@ledger/event-store';
import { ExitCode, type CliContext } from '../cli-context';
import type { RegisterCommand } from './index';

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The store behind a handle whose `close` leaves it open: a test runs several commands on one store. */
function keptOpen(store: EventStore): EventStore {
  return {
    name: store.name,
    append: (request) => store.append(request),
    appendSerialized: (request) => store.appendSerialized(request),
    appendMany: (requests) => store.appendMany(requests),
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (options) => store.readAll(options),
    readAllData: (options) => store.readAllData(options),
    subscribeToAll: (options) => store.subscribeToAll(options),
    subscribeToAllStored: (options) => store.subscribeToAllStored(options),
    headPosition: () => store.headPosition(),
    close: async () => undefined,
  };
}

/**
 * Test helper: runs one command in-process against a given store, capturing stdout/stderr and the exit code it set.
 * Errors propagate as thrown (main.ts maps UsageError and InvalidInputError to exit 2).
 */
export async function runCommand(
  register: RegisterCommand,
  store: EventStore,
  args: string[],
  options: { dataDir?: string; actor?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  let exitCode: number = ExitCode.ok;
  const context: CliContext = {
    config: loadConfig({
      ...options.env,
      LEDGER_DATA_DIR: options.dataDir ?? '/nonexistent-ledger-test-dir',
    }),
    openStore: async () => keptOpen(store),
    interactive: false,
    actor: options.actor ?? 'cli:test',
  };
  const program = new Command().name('ledger').exitOverride();
  register(
    program,
    () => context,
    (code) => (exitCode = code),
  );
  let stdout = '';
  let stderr = '';
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'ledger', ...args]);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  return { exitCode, stdout, stderr };
}

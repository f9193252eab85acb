import { Command, CommanderError } from 'commander';
import { ConfigError } from '@ledger/config';
import { MalformedTokenError } from '@ledger/event-store';
import { InvalidInputError } from '@ledger/domain';
import { createCliContext, ExitCode, UsageError, type CliContext } from './cli-context';
import { registerCommands } from './commands';

async function main(argv: string[]): Promise<number> {
  let context: CliContext | undefined;
  const lazyContext = (): CliContext => (context ??= createCliContext());
  const program = new Command()
    .name('ledger')
    .description('Access-control ledger: import, replay, export, verify, rebuild')
    .exitOverride()
    .showHelpAfterError();
  let exitCode: number = ExitCode.ok;
  registerCommands(program, lazyContext, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof InvalidInputError ||
      error instanceof MalformedTokenError
    ) {
      process.stderr.write(`ledger: ${error.message}\n`);
      return ExitCode.usage;
    }
    process.stderr.write(
      `ledger: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return ExitCode.usage;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ledger: ${String(error)}\n`);
    process.exitCode = ExitCode.usage;
  },
);

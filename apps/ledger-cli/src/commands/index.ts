import type { Command } from 'commander';
import type { CliContext } from '../cli-context';
import { registerBackupCommand } from './backup.command';
import { registerExportCommand } from './export.command';
import { registerExportKeyCommand } from './export-key.command';
import { registerImportCommand } from './import.command';
import { registerHeadCommand, registerProveCommand } from './log-proofs.command';
import { registerRebuildCommand } from './rebuild.command';
import { registerReplayCommand } from './replay.command';
import { registerSimulateCommand } from './simulate.command';
import { registerVerifyCommand } from './verify.command';
import { registerVerifyLogCommand } from './verify-log.command';

/** Each command module registers itself here; `setExitCode` lets a command report findings (exit 1). */
export type RegisterCommand = (
  program: Command,
  context: () => CliContext,
  setExitCode: (code: number) => void,
) => void;

const registrations: RegisterCommand[] = [
  registerImportCommand,
  registerReplayCommand,
  registerRebuildCommand,
  registerExportCommand,
  registerVerifyCommand,
  registerExportKeyCommand,
  registerSimulateCommand,
  registerBackupCommand,
  registerVerifyLogCommand,
  registerHeadCommand,
  registerProveCommand,
];

export function registerCommands(
  program: Command,
  context: () => CliContext,
  setExitCode: (code: number) => void,
): void {
  for (const register of registrations) register(program, context, setExitCode);
}

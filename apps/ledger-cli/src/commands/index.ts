import type { Command } from 'commander';
import type { CliContext } from '../cli-context';
import { registerRebuildCommand } from './rebuild.command';

/** Each command module registers itself here; `setExitCode` lets a command report findings (exit 1). */
export type RegisterCommand = (
  program: Command,
  context: () => CliContext,
  setExitCode: (code: number) => void,
) => void;

const registrations: RegisterCommand[] = [registerRebuildCommand];

export function registerCommands(
  program: Command,
  context: () => CliContext,
  setExitCode: (code: number) => void,
): void {
  for (const register of registrations) register(program, context, setExitCode);
}

import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import {
  isReportFormat,
  renderReport,
  writeReportBundle,
  REPORT_FORMATS,
  type ReplayRequest,
  type ReportFormat,
} from '@ledger/replay';
import { ExitCode, UsageError } from '../cli-context';
import { cliAuditService } from './cli-audit';
import type { RegisterCommand } from './index';

interface ReplayOptions {
  readonly from?: string;
  readonly to?: string;
  readonly device: string[];
  readonly viewer: string[];
  readonly format?: string;
  readonly out?: string;
}

/** Repeatable option that also takes comma-separated lists (ids never contain commas). */
export const collectIds = (value: string, previous: string[]): string[] => [
  ...previous,
  ...value.split(',').filter((id) => id !== ''),
];

const BY_EXTENSION: Readonly<Record<string, ReportFormat>> = {
  '.json': 'json',
  '.csv': 'csv',
  '.md': 'md',
  '.markdown': 'md',
  '.html': 'html',
  '.htm': 'html',
};

/** `--format` when given; else what the `--out` file's extension says; else JSON. */
export function reportFormat(format: string | undefined, out: string | undefined): ReportFormat {
  if (format !== undefined) {
    if (!isReportFormat(format)) throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
    return format;
  }
  return (out && BY_EXTENSION[path.extname(out).toLowerCase()]) || 'json';
}

/**
 * `ledger replay`: contract §4 from the command line. Writes the report, puts the replay on the record
 * (`IncidentReplayed`), and exits 1 when it found exposures.
 */
export const registerReplayCommand: RegisterCommand = (program, context, setExitCode) => {
  program
    .command('replay')
    .description('judge every view in the window against the ownership history and write the incident report')
    .option('--from <time>', 'start of the window, inclusive (RFC 3339 business time)')
    .option('--to <time>', 'end of the window, exclusive (RFC 3339 business time)')
    .option('--device <id>', 'only views of this device (repeatable, or comma-separated)', collectIds, [])
    .option('--viewer <id>', 'only views by this user (repeatable, or comma-separated)', collectIds, [])
    .option('--format <format>', `${REPORT_FORMATS.join(' | ')} (default: from --out's extension, else json)`)
    .option('--out <file>', 'write the report to this file instead of stdout')
    .action(async (options: ReplayOptions) => {
      const format = reportFormat(options.format, options.out);
      const request: ReplayRequest = {
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to }),
        ...(options.device.length > 0 ? { deviceIds: options.device } : {}),
        ...(options.viewer.length > 0 ? { viewerIds: options.viewer } : {}),
      };
      const ctx = context();
      const store = await ctx.openStore();
      const bar = ctx.interactive
        ? new SingleBar(
            { format: 'replay: {phase} {value} events read', stream: process.stderr, hideCursor: true },
            Presets.shades_classic,
          )
        : null;
      try {
        bar?.start(0, 0, { phase: 'ownership history,' });
        // On the record (IncidentReplayed) before anyone reads it.
        const { report, recorded } = await cliAuditService(ctx, store).replay(
          request,
          ctx.actor,
          (read, phase) =>
            bar?.update(read, { phase: phase === 'ownership' ? 'ownership history,' : 'views,' }),
        );
        bar?.stop();
        const text = renderReport(report, format);
        if (options.out === undefined) {
          process.stdout.write(text);
        } else {
          try {
            // HTML comes with the complete lists as CSV files beside it (FILE-files/).
            if (format === 'html') await writeReportBundle(report, options.out);
            else await writeFile(options.out, text);
          } catch (error) {
            throw new UsageError(
              `cannot write ${options.out}: ${error instanceof Error ? error.message : String(error)}`,
            );
          }
        }
        const { summary } = report;
        process.stderr.write(
          `replay: ${summary.viewsExamined} views examined, ${summary.exposures} exposures, ` +
            `${summary.viewersExposed} viewers exposed, ${summary.ownersAffected} owners affected; ` +
            `${report.digest}; recorded at ${recorded.token}${options.out === undefined ? '' : `; report in ${options.out}`}\n`,
        );
        setExitCode(summary.exposures > 0 ? ExitCode.findings : ExitCode.ok);
      } finally {
        bar?.stop();
        await store.close();
      }
    });
};

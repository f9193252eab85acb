import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { ImportFileError, importNdjsonFile, StoreLedgerWriter } from '@ledger/application';
import { ExitCode, UsageError } from '../cli-context';
import type { RegisterCommand } from './index';

interface ImportOptions {
  readonly importId?: string;
}

/**
 * `ledger import FILE.ndjson`: ownership changes and views, one JSON object per line (contract §7). Every
 * rejected line is reported with its number; a rerun of the same file adds nothing twice.
 */
export const registerImportCommand: RegisterCommand = (program, context, setExitCode) => {
  program
    .command('import')
    .description(
      'import ownership changes and views from an NDJSON file ({"op": register|grant|revoke|transfer|decommission|view, …})',
    )
    .argument('<file>', 'NDJSON file, one JSON object per line')
    .option(
      '--import-id <id>',
      'name of this import; event ids derive from it and the line number (default: the SHA-256 of the file)',
    )
    .action(async (file: string, options: ImportOptions) => {
      const ctx = context();
      const store = await ctx.openStore({ commitsOnWriterThread: true });
      const bars = ctx.interactive
        ? new MultiBar(
            {
              format:
                'import |{bar}| {percentage}% | {lines} lines: {accepted} accepted, {skipped} already imported, {rejected} rejected',
              stream: process.stderr,
              hideCursor: true,
            },
            Presets.shades_classic,
          )
        : null;
      let bar: SingleBar | undefined;
      /** MultiBar prints logged lines on its next redraw only: one last redraw so none is lost. */
      const finish = (): void => {
        bars?.update();
        bars?.stop();
      };
      const say = (text: string): void => {
        if (bars) bars.log(text);
        else process.stderr.write(text);
      };
      try {
        const summary = await importNdjsonFile(file, {
          writer: new StoreLedgerWriter(store, { maxAppendBytes: ctx.config.maxAppendBytes }),
          ...(options.importId === undefined ? {} : { importId: options.importId }),
          onRejected: (line, message) => say(`line ${line}: ${message}\n`),
          onProgress: (p) => {
            if (!bars) return;
            const payload = {
              lines: p.lines,
              accepted: p.accepted,
              skipped: p.skipped,
              rejected: p.rejected,
            };
            bar ??= bars.create(Math.max(p.totalBytes, 1), 0, payload);
            bar.update(p.bytesRead, payload);
          },
        });
        finish();
        process.stdout.write(
          `imported ${file}: ${summary.lines} lines, ${summary.accepted} accepted, ${summary.skipped} already imported, ` +
            `${summary.rejected} rejected${summary.blank > 0 ? `, ${summary.blank} blank` : ''} (import id ${summary.importId})\n`,
        );
        setExitCode(summary.rejected > 0 ? ExitCode.findings : ExitCode.ok);
      } catch (error) {
        if (error instanceof ImportFileError) throw new UsageError(error.message);
        throw error;
      } finally {
        finish();
        await store.close();
      }
    });
};

import * as fs from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import {
  EXPORT_FORMATS,
  ExportKeyError,
  loadExportSigner,
  normalizeTrailFilter,
  type ExportFormat,
  type ExportSigner,
  type TrailFilter,
} from '@ledger/audit-trail';
import type { LedgerConfig } from '@ledger/config';
import { UsageError } from '../cli-context';
import { cliAuditService } from './cli-audit';
import { cutAtSignedHead } from './export-cut';
import type { RegisterCommand } from './index';

interface ExportOptions {
  readonly device?: string;
  readonly user?: string;
  readonly from?: string;
  readonly to?: string;
  readonly format?: string;
  readonly out?: string;
}

/** `--format` when given; else `.csv` on `--out` means CSV; else NDJSON. */
export function exportFormat(format: string | undefined, out: string | undefined): ExportFormat {
  if (format !== undefined) {
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
    }
    return format as ExportFormat;
  }
  return out !== undefined && path.extname(out).toLowerCase() === '.csv' ? 'csv' : 'ndjson';
}

export function exportSigner(config: LedgerConfig): ExportSigner {
  try {
    return loadExportSigner(config);
  } catch (error) {
    if (error instanceof ExportKeyError) throw new UsageError(error.message);
    throw error;
  }
}

/** Writes chunks to stdout or, through a temporary file renamed at the end, to `--out`. */
class Output {
  private readonly stream: NodeJS.WritableStream;
  private readonly temp: string | null;

  constructor(private readonly file: string | undefined) {
    if (file === undefined) {
      this.stream = process.stdout;
      this.temp = null;
      return;
    }
    // A failed export must not leave a file that looks like a (truncated) export under the requested name.
    this.temp = `${file}.${process.pid}.partial`;
    try {
      this.stream = fs.createWriteStream(this.temp, { flags: 'wx' });
    } catch (error) {
      throw new UsageError(`cannot write ${file}: ${(error as Error).message}`);
    }
  }

  async write(chunk: string): Promise<void> {
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async commit(): Promise<void> {
    if (this.temp === null || this.file === undefined) return;
    const stream = this.stream as fs.WriteStream;
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(() => resolve());
    });
    fs.renameSync(this.temp, this.file);
  }

  abort(): void {
    if (this.temp === null) return;
    (this.stream as fs.WriteStream).destroy();
    fs.rmSync(this.temp, { force: true });
  }
}

/**
 * `ledger export`: contract §5 from the command line. Streams the signed trail to `--out` or stdout, putting
 * the export on the record (`AuditTrailExported`) before its signed manifest is written.
 */
export const registerExportCommand: RegisterCommand = (program, context) => {
  program
    .command('export')
    .description('write a signed, hash-chained audit trail of a device and/or a user (NDJSON or CSV)')
    .option('--device <id>', 'every event of this device')
    .option('--user <id>', "every change to this user's access, their views, and views of devices they owned")
    .option('--from <time>', 'start of the window, inclusive (RFC 3339 business time)')
    .option('--to <time>', 'end of the window, exclusive (RFC 3339 business time)')
    .option(
      '--format <format>',
      `${EXPORT_FORMATS.join(' | ')} (default: csv for an --out ending in .csv, else ndjson)`,
    )
    .option('--out <file>', 'write the export to this file instead of stdout')
    .action(async (options: ExportOptions) => {
      if (options.device === undefined && options.user === undefined) {
        throw new UsageError('export needs --device ID or --user ID (or both)');
      }
      const format = exportFormat(options.format, options.out);
      const requested: TrailFilter = {
        ...(options.device === undefined ? {} : { deviceId: options.device }),
        ...(options.user === undefined ? {} : { userId: options.user }),
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to }),
      };
      const { filter } = normalizeTrailFilter(requested);
      const ctx = context();
      const signer = exportSigner(ctx.config);
      const store = await ctx.openStore();
      const audit = cliAuditService(ctx, store);
      const bar = ctx.interactive
        ? new SingleBar(
            {
              format: 'export: {value} KiB written',
              stream: process.stderr,
              hideCursor: true,
            },
            Presets.shades_classic,
          )
        : null;
      let output: Output | null = null;
      try {
        output = new Output(options.out);
        const sink = output;
        bar?.start(0, 0);
        let written = 0;
        // Cut at a signed head (signing one if none covers the log), as the service does: the manifest carries
        // it and every record its inclusion proof.
        const cutAt = await cutAtSignedHead(store, signer);
        // The service records the export (AuditTrailExported) before it writes the signed manifest, the last
        // line; the file appears under its name only once complete.
        const prepared = audit.beginExport(filter, format, ctx.actor, cutAt);
        const { summary, token } = await prepared.run((chunk) => {
          written += chunk.length;
          bar?.update(Math.round(written / 1024));
          return sink.write(chunk);
        });
        bar?.stop();
        await sink.commit();
        output = null;
        process.stderr.write(
          `export: ${summary.count} records, last hash ${summary.lastHash}, signed by ${signer.publicKey.keyId}; ` +
            `cut at the tree head of size ${cutAt.treeHead.treeSize}${cutAt.signedNow ? ' (signed now)' : ''}; ` +
            `recorded at ${token}${options.out === undefined ? '' : `; written to ${options.out}`}\n`,
        );
      } finally {
        bar?.stop();
        output?.abort();
        await store.close();
      }
    });
};

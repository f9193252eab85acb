import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ConcurrencyError, InvalidAppendError, StoreClosedError } from '@ledger/event-store';

/** A probe really allocates this much, so a disk with a few free bytes is not taken for a working one. */
const PROBE_BYTES = 64 * 1024;
/** Readiness is polled often; the disk is probed at most this often and the answer reused in between. */
const PROBE_EVERY_MS = 1000;
/**
 * How long a failed append alone keeps the service unready. After that the probe decides, so a service that
 * stopped getting traffic because it was unready can become ready again once the disk is fine.
 */
export const APPEND_FAILURE_HOLD_MS = 10_000;

export type Writability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Whether an append failure says the store cannot write (not: the caller's request was refused). */
export function isWriteFailure(error: unknown): boolean {
  if (error instanceof ConcurrencyError || error instanceof InvalidAppendError) return false;
  // Closing is shutdown, not a failure; anything else an adapter throws (StoreUnavailableError) is one.
  return error instanceof Error && !(error instanceof StoreClosedError);
}

/**
 * Can this service write? Two signals, either of which makes readiness fail with its reason:
 * - the last append failed with a store error and none has succeeded since (for `APPEND_FAILURE_HOLD_MS`);
 * - a write probe in the data dir (allocate, fsync, remove a small file) fails: a full disk, a file system
 *   remounted read-only, an I/O error. The embedded log and the projection snapshot live there.
 */
export class StoreWritability {
  private lastFailure: { readonly at: number; readonly message: string } | null = null;
  private probed: { readonly at: number; readonly result: Writability } | null = null;
  private probing: Promise<Writability> | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly now: () => number = Date.now,
  ) {}

  appendSucceeded(): void {
    this.lastFailure = null;
  }

  appendFailed(error: unknown): void {
    if (!isWriteFailure(error)) return;
    this.lastFailure = { at: this.now(), message: (error as Error).message };
  }

  async check(): Promise<Writability> {
    const failure = this.lastFailure;
    if (failure && this.now() - failure.at < APPEND_FAILURE_HOLD_MS) {
      return { ok: false, reason: `the last append failed: ${failure.message}` };
    }
    return this.probe();
  }

  private probe(): Promise<Writability> {
    if (this.probed && this.now() - this.probed.at < PROBE_EVERY_MS)
      return Promise.resolve(this.probed.result);
    this.probing ??= this.writeProbeFile().then((result) => {
      this.probed = { at: this.now(), result };
      this.probing = null;
      return result;
    });
    return this.probing;
  }

  private async writeProbeFile(): Promise<Writability> {
    const file = path.join(this.dataDir, `.write-probe-${process.pid}`);
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, 'w', 0o600);
      await handle.write(Buffer.alloc(PROBE_BYTES, 0x2e));
      await handle.sync();
      return { ok: true };
    } catch (error) {
      return {
        ok: false,
        reason: `cannot write to the data dir ${this.dataDir}: ${(error as Error).message}`,
      };
    } finally {
      await handle?.close().catch(() => undefined);
      await fs.rm(file, { force: true }).catch(() => undefined);
    }
  }
}

import * as fs from 'node:fs';

/** Lines waiting for the file descriptor beyond this are dropped (and counted), never queued without bound. */
const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const EAGAIN_RETRY_MS = 20;

export interface LogDestinationStats {
  /** Lines accepted and written. */
  readonly written: number;
  /** Lines given up on: the queue was full, or the descriptor refused them (a full disk, a closed pipe). */
  readonly dropped: number;
  /** The last error the descriptor gave, e.g. `ENOSPC: no space left on device, write`. */
  readonly lastError: string | null;
}

/**
 * pino's destination for the service: logging must never stop the process. Lines are written with
 * asynchronous `fs.write` (one write in flight at a time, so a pipe whose reader stalls holds one thread-pool
 * thread, not the event loop); while a write is in flight new lines queue up to a bound, beyond which they
 * are dropped and counted. A line the descriptor refuses (ENOSPC on a full disk, EPIPE, EIO) is dropped and
 * counted too, never retried in a loop; EAGAIN is retried after a pause.
 *
 * Why not pino's own `pino.destination({ sync: false })` (sonic-boom): its `flushSync`, which pino calls at
 * exit, retries every write error other than EAGAIN forever, so a full disk turns exit into a hang; and its
 * synchronous default blocks the event loop on the same errors — the hang issue #12 finding 8 reports.
 */
export class NonBlockingLogDestination {
  private queue: string[] = [];
  private queuedBytes = 0;
  /** Bytes of the write in flight (or waiting for an EAGAIN retry) not yet accepted by the descriptor. */
  private inFlight: Buffer | null = null;
  private inFlightLines = 0;
  private writtenLines = 0;
  private droppedLines = 0;
  private lastError: string | null = null;

  constructor(
    private readonly fd: number = 1,
    private readonly maxQueuedBytes: number = DEFAULT_MAX_QUEUED_BYTES,
  ) {}

  get stats(): LogDestinationStats {
    return { written: this.writtenLines, dropped: this.droppedLines, lastError: this.lastError };
  }

  /** pino calls this with one serialized line (newline included). */
  write(line: string): boolean {
    if (this.queuedBytes + line.length > this.maxQueuedBytes) {
      this.droppedLines++;
      return false;
    }
    this.queue.push(line);
    this.queuedBytes += line.length;
    if (this.inFlight === null) this.writeNext();
    return true;
  }

  /**
   * Writes what is queued, synchronously, if the descriptor is answering (no write in flight, which could
   * mean a stalled pipe that a synchronous write would block on). One attempt, no retries: whatever cannot
   * be written now is counted as dropped. For the very end of the process, after `drain`.
   */
  flushSync(): void {
    if (this.queue.length === 0) return;
    const lines = this.queue.length;
    const chunk = Buffer.from(this.queue.join(''));
    this.queue = [];
    this.queuedBytes = 0;
    if (this.inFlight !== null) {
      this.droppedLines += lines;
      return;
    }
    let offset = 0;
    try {
      while (offset < chunk.length) {
        const written = fs.writeSync(this.fd, chunk, offset);
        if (written <= 0) break;
        offset += written;
      }
    } catch (error) {
      this.lastError = (error as Error).message;
    }
    if (offset < chunk.length) this.droppedLines += lines;
    else this.writtenLines += lines;
  }

  /** Waits (at most `timeoutMs`) for what is queued to be written, then flushes the rest synchronously. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.inFlight !== null || this.queue.length > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.flushSync();
  }

  private writeNext(): void {
    if (this.queue.length === 0) return;
    this.inFlight = Buffer.from(this.queue.join(''));
    this.inFlightLines = this.queue.length;
    this.queue = [];
    this.queuedBytes = 0;
    this.writeInFlight();
  }

  private writeInFlight(): void {
    const chunk = this.inFlight as Buffer;
    fs.write(this.fd, chunk, 0, chunk.length, null, (error, written) => {
      if (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.writeInFlight(), EAGAIN_RETRY_MS).unref();
          return;
        }
        this.lastError = error.message;
        this.droppedLines += this.inFlightLines;
        this.settleInFlight();
        return;
      }
      if (written < chunk.length) {
        this.inFlight = chunk.subarray(written);
        this.writeInFlight();
        return;
      }
      this.writtenLines += this.inFlightLines;
      this.settleInFlight();
    });
  }

  private settleInFlight(): void {
    this.inFlight = null;
    this.inFlightLines = 0;
    this.writeNext();
  }
}

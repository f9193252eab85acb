import * as fs from 'node:fs';
import * as path from 'node:path';
import { HASH_BYTES } from './merkle-hash';

/** Where the tree's state lives, under the data dir. Deleting it only makes the next start rebuild it. */
export const TREE_STATE_DIR = 'integrity';
const LEAVES_FILE = 'leaves.bin';
const STATE_FILE = 'state.json';
const STATE_FORMAT = 'ledger-tree-state/1';

interface StateHeader {
  readonly format: typeof STATE_FORMAT;
  /** The store the leaves were computed from (`sqlite`, `esdb`): another store's log is another tree. */
  readonly store: string;
  /** How many leaves of `leaves.bin` are durable; bytes past them are an interrupted write. */
  readonly leaves: number;
}

export type LoadedTreeState =
  | { readonly kind: 'none' }
  | { readonly kind: 'loaded'; readonly leaves: Buffer; readonly count: number }
  | { readonly kind: 'discarded'; readonly why: string };

/** Reads the recorded leaf hashes: what the ledger saw the log hold, to compare the log against. */
export function loadTreeState(dataDir: string, storeName: string): LoadedTreeState {
  const dir = path.join(dataDir, TREE_STATE_DIR);
  let header: StateHeader;
  try {
    header = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as StateHeader;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'discarded', why: `${STATE_FILE} is unreadable: ${(error as Error).message}` };
  }
  if (header.format !== STATE_FORMAT || !Number.isSafeInteger(header.leaves) || header.leaves < 0) {
    return { kind: 'discarded', why: `${STATE_FILE} is not a ${STATE_FORMAT} header` };
  }
  if (header.store !== storeName) {
    return { kind: 'discarded', why: `it was computed from the ${header.store} store, this is ${storeName}` };
  }
  let leaves: Buffer;
  try {
    leaves = fs.readFileSync(path.join(dir, LEAVES_FILE));
  } catch (error) {
    return { kind: 'discarded', why: `${LEAVES_FILE} is unreadable: ${(error as Error).message}` };
  }
  if (leaves.length < header.leaves * HASH_BYTES) {
    return {
      kind: 'loaded',
      leaves,
      // Shorter than the header says: the file was cut; what is there is still what was recorded.
      count: Math.floor(leaves.length / HASH_BYTES),
    };
  }
  return { kind: 'loaded', leaves: leaves.subarray(0, header.leaves * HASH_BYTES), count: header.leaves };
}

export function removeTreeState(dataDir: string): void {
  fs.rmSync(path.join(dataDir, TREE_STATE_DIR), { recursive: true, force: true });
}

/**
 * Appends leaf hashes to `leaves.bin` off the event loop (libuv's pool), then records the new durable count in
 * `state.json` (temp file, rename). One write in flight at a time; later leaves wait in the tree.
 */
export class TreeStateWriter {
  private flushing: Promise<void> | null = null;
  private handle: fs.promises.FileHandle | null = null;
  private readonly dir: string;
  private failed: Error | null = null;

  private constructor(
    dataDir: string,
    private readonly storeName: string,
    private durable: number,
  ) {
    this.dir = path.join(dataDir, TREE_STATE_DIR);
  }

  /** Starts a writer after `durable` recorded leaves (0: a fresh state, any old files are replaced). */
  static open(dataDir: string, storeName: string, durable: number): TreeStateWriter {
    const writer = new TreeStateWriter(dataDir, storeName, durable);
    fs.mkdirSync(writer.dir, { recursive: true });
    if (durable === 0) {
      fs.rmSync(path.join(writer.dir, LEAVES_FILE), { force: true });
      writer.writeHeader();
    }
    return writer;
  }

  get recorded(): number {
    return this.durable;
  }

  get error(): Error | null {
    return this.failed;
  }

  /**
   * Records leaves [recorded, count) read from `leaves(from, to)` (the tree's own buffer, copied only here);
   * resolves once they are durable.
   */
  flush(count: number, leaves: (from: number, to: number) => Buffer): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush(count, leaves));
    if (count <= this.durable || this.failed) return Promise.resolve();
    const chunk = leaves(this.durable, count);
    this.flushing = (async () => {
      try {
        this.handle ??= await fs.promises.open(path.join(this.dir, LEAVES_FILE), 'a+');
        // `a+` appends; the file may be longer than what is durable after a crash, so truncate first.
        await this.handle.truncate(this.durable * HASH_BYTES);
        await this.handle.write(chunk, 0, chunk.length, this.durable * HASH_BYTES);
        await this.handle.datasync();
        this.durable = count;
        this.writeHeader();
      } catch (error) {
        this.failed = error as Error;
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.handle?.close();
    this.handle = null;
  }
  private writeHeader(): void {
    const header: StateHeader = { format: STATE_FORMAT, store: this.storeName, leaves: this.durable };
    const file = path.join(this.dir, STATE_FILE);
    const temp = `${file}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(header));
    fs.renameSync(temp, file);
  }
}

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MerkleTree } from './merkle-tree';

export interface LeafHashWorkerData {
  /** The tree's right edge: the last node of each level, lowest first. */
  readonly edge: readonly Uint8Array[];
  readonly size: number;
}

/** The leaf texts of a batch, end to end in one string (one copy to the worker, not one per leaf). */
export interface LeafHashRequest {
  readonly joined: string;
  /** Each leaf text's length in UTF-16 code units, in order. */
  readonly lengths: Uint32Array;
}

/** Lets the worker load the TypeScript sources when this module was itself loaded from them (tests). */
const REGISTER_TS = path.resolve(__dirname, '..', '..', '..', 'test', 'support', 'register-ts.js');

/**
 * Hashes the tree's leaves and nodes on a worker thread, so the thread that appends and serves checks only builds
 * the leaf texts. Batches are answered in the order they were sent; each answer is the hash sequence
 * `MerkleTree.appendHashed` takes. The worker mirrors the tree's right edge, so it must see every leaf the tree
 * gets, once, in order: after any failure the hasher is unusable and the caller hashes on its own thread.
 */
export class LeafHasher {
  private readonly pending: Array<{ resolve: (hashes: Buffer) => void; reject: (error: Error) => void }> = [];
  private failure: Error | null = null;
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (bytes: ArrayBuffer) => {
      this.pending.shift()?.resolve(Buffer.from(bytes));
      if (this.pending.length === 0) worker.unref();
    });
    worker.on('error', (error: Error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the leaf hashing worker exited (code ${code})`));
    });
    // Keeps the process alive only while it owes hashes: an idle worker must not hold a process open.
    worker.unref();
  }

  /** Starts a worker that continues `tree` from its current size. */
  static continuing(tree: MerkleTree): LeafHasher {
    const workerData: LeafHashWorkerData = { edge: tree.rightEdge(), size: tree.size };
    const compiled = path.extname(__filename) === '.js';
    const entry = path.join(__dirname, compiled ? 'leaf-hash.worker.js' : 'leaf-hash.worker.ts');
    const worker = compiled
      ? new Worker(entry, { workerData })
      : new Worker(`require(${JSON.stringify(REGISTER_TS)});\nrequire(${JSON.stringify(entry)});`, {
          eval: true,
          workerData,
        });
    return new LeafHasher(worker);
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** The hash sequence of the next leaves, whose leaf texts are `texts`. */
  hash(texts: readonly string[]): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      if (this.pending.length === 1) this.worker.ref();
      const lengths = new Uint32Array(texts.length);
      for (let i = 0; i < texts.length; i++) lengths[i] = texts[i].length;
      const request: LeafHashRequest = { joined: texts.join(''), lengths };
      this.worker.postMessage(request, [lengths.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.fail(new Error('the leaf hasher was closed'));
    await this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.splice(0)) waiter.reject(this.failure);
    this.worker.unref();
  }
}

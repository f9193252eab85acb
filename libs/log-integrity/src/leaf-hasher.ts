import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MerkleTree } from './merkle-tree';

export interface LeafHashWorkerData {
  /** The tree's right edge: the last node of each level, lowest first. */
  readonly edge: readonly Uint8Array[];
  readonly size: number;
}

/**
 * What the worker hashes for a batch: every leaf's hash input (0x00 ‖ its UTF-8 leaf bytes) end to end in one
 * buffer that is transferred, not copied, and where each ends.
 */
export interface LeafHashRequest {
  readonly bytes: ArrayBuffer;
  /** Byte offset in `bytes` where each leaf's input ends (the next one's starts), in order. */
  readonly ends: Uint32Array;
  /** An earlier answer's `hashes`, done with: the worker writes a later answer into it. */
  readonly spare: ArrayBuffer | null;
}

/**
 * The worker's answer: `length` bytes of `hashes` are the hash sequence `MerkleTree.appendHashed` takes;
 * `bytes` is the request's, handed back to be written again. Both buffers go back and forth rather than being
 * allocated per batch: megabytes of fresh buffers a second make V8 collect garbage far more often.
 */
export interface LeafHashAnswer {
  readonly hashes: ArrayBuffer;
  readonly length: number;
  readonly bytes: ArrayBuffer;
}

/**
 * The leaves of the next batch for the worker, written as they arrive straight into the buffer the worker will
 * hash from: no string per leaf kept, no joined copy, and one transfer per batch, not a message per event.
 */
export class LeafBatch {
  private bytes: Buffer | null = null;
  /** Buffers the worker handed back, to write the next batches into. */
  private readonly spares: Buffer[] = [];
  private ends = new Uint32Array(1024);
  private used = 0;
  private leaves = 0;
  /** Bytes the last batch took: the next one starts with room for as much. */
  private lastSize = 64 * 1024;

  get count(): number {
    return this.leaves;
  }

  /** Adds the next leaf, given its leaf text (`storedLeafText`). */
  add(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units).
    const worst = 1 + 3 * text.length;
    let bytes = this.bytes;
    if (bytes === null || this.used + worst > bytes.length) {
      const size = Math.max(this.lastSize, 2 * (this.used + worst));
      const spare = this.spares.pop();
      const grown = spare !== undefined && spare.length >= size ? spare : Buffer.allocUnsafeSlow(size);
      if (bytes !== null) bytes.copy(grown, 0, 0, this.used);
      this.bytes = bytes = grown;
    }
    if (this.leaves === this.ends.length) {
      const ends = new Uint32Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    bytes[this.used] = 0x00;
    this.used += 1 + bytes.write(text, this.used + 1, 'utf8');
    this.ends[this.leaves++] = this.used;
  }

  /** A buffer a batch was taken in, free to be written again. */
  recycle(bytes: ArrayBuffer): void {
    if (this.spares.length < 2 && bytes.byteLength > 0) this.spares.push(Buffer.from(bytes));
  }

  /** Hands the batch over and starts an empty one. */
  take(spare: ArrayBuffer | null = null): LeafHashRequest {
    const bytes = this.bytes ?? Buffer.allocUnsafeSlow(0);
    const request: LeafHashRequest = {
      bytes: bytes.buffer as ArrayBuffer,
      ends: this.ends.slice(0, this.leaves),
      spare,
    };
    this.lastSize = Math.max(64 * 1024, this.used + (this.used >> 3));
    this.bytes = null;
    this.used = 0;
    this.leaves = 0;
    return request;
  }
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
  private readonly pending: Array<{
    readonly batch: LeafBatch;
    readonly resolve: (hashes: Buffer) => void;
    readonly reject: (error: Error) => void;
  }> = [];
  /** An answer's buffer the caller is done with (`recycle`), sent back with the next request. */
  private spare: ArrayBuffer | null = null;
  private failure: Error | null = null;
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (answer: LeafHashAnswer) => {
      const waiter = this.pending.shift();
      waiter?.batch.recycle(answer.bytes);
      waiter?.resolve(Buffer.from(answer.hashes, 0, answer.length));
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

  /** The hash sequence of the leaves of `batch`, which is emptied (its bytes go to the worker). */
  hash(batch: LeafBatch): Promise<Buffer> {
    const request = batch.take(this.failure ? null : this.spare);
    if (this.failure) return Promise.reject(this.failure);
    this.spare = null;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (this.pending.length === 1) this.worker.ref();
      const transfer: ArrayBuffer[] = [request.bytes, request.ends.buffer as ArrayBuffer];
      if (request.spare) transfer.push(request.spare);
      this.worker.postMessage(request, transfer);
    });
  }

  /** Hands back hashes `hash` answered once nothing reads them any more: the worker writes into them again. */
  recycle(hashes: Buffer): void {
    if (hashes.byteOffset === 0) this.spare = hashes.buffer as ArrayBuffer;
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

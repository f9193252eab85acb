import { randomUUID } from 'node:crypto';
import type { Subscription } from 'rxjs';
import {
  comparePositions,
  positionToToken,
  START,
  type EventStore,
  type LogPosition,
  type StoredEvent,
} from '@ledger/event-store';
import { checkKeptHead } from './kept-heads';
import { storedLeafText } from './leaf-bytes';
import { LeafBatch, LeafHasher } from './leaf-hasher';
import type { LogTreeSnapshot } from './log-tree-snapshot';
import { toHex } from './merkle-hash';
import { loadTreeState, TreeStateWriter } from './tree-state-file';
import { TreeChecker, type TamperFinding } from './tree-checker';
import {
  signTreeHead,
  TREE_HEADS_STREAM,
  treeHeadEvent,
  type TreeHead,
  type TreeHeadKey,
  type TreeHeadSigner,
} from './tree-head';

export interface IntegrityLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface HeadPolicy {
  /** Sign a head once this many events were appended since the last one (0: never by count). */
  readonly everyEvents: number;
  /** Sign a head this often when anything was appended since the last one (0: never by time). */
  readonly everySeconds: number;
}

export interface IntegrityMonitorOptions {
  /** The data dir: the tree state lives in `<dataDir>/integrity`; null keeps it in memory only. */
  readonly dataDir: string | null;
  readonly signer: TreeHeadSigner;
  readonly key: TreeHeadKey;
  readonly policy: HeadPolicy;
  readonly now?: () => Date;
  readonly logger?: IntegrityLogger;
  /** Hash leaves and nodes on a worker thread (the default), or on the thread that appends. */
  readonly hashOnWorker?: boolean;
  /**
   * Heads kept outside the data dir (LEDGER_KEPT_HEADS): at start-up each must be signed by `key` and be a
   * prefix of the log. They catch what nothing inside the data dir can: the log and its tree state replaced
   * together by a self-consistent fresh tree, or cut back along with its state.
   */
  readonly keptHeads?: readonly TreeHead[];
}

export type IntegrityState = 'verifying' | 'intact' | 'tampered';

export interface IntegrityStatus {
  readonly state: IntegrityState;
  readonly treeSize: number;
  readonly rootHash: string;
  /** The latest head of ours found in the log. */
  readonly latestHead: TreeHead | null;
  readonly verifiedHeads: number;
  /** Heads signed by another key (another ledger writing to a shared store): ignored, not trusted. */
  readonly foreignHeads: number;
  readonly finding: TamperFinding | null;
}

/** Thrown to callers while the log is not trustworthy, so nothing is served as truth. */
export class LogTamperedError extends Error {
  constructor(readonly finding: TamperFinding) {
    super(`the log failed its integrity check: ${finding.message}`);
    this.name = 'LogTamperedError';
  }
}

/** Asked for a tree size, leaf or head the tree does not have (yet). */
export class NotInTreeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotInTreeError';
  }
}

export interface InclusionProof {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly leafHash: string;
  readonly auditPath: readonly string[];
}

export interface ConsistencyProof {
  readonly fromSize: number;
  readonly toSize: number;
  readonly proof: readonly string[];
}

const FLUSH_EVERY_MS = 1000;
const FLUSH_EVERY_LEAVES = 65_536;
/** Leaves handed to the hashing worker at once, at most (a commit group is usually one batch). */
const HASH_BATCH = 4096;
/**
 * A batch smaller than this waits up to `GATHER_MS` for more leaves before it goes to the worker. A message and
 * its transferred buffers cost the service's event loop 0.1–0.3 ms each (measured in the service under
 * `/v1/media/authorize`; 13–40 µs in an empty process), more than the authorizations whose leaves it carries:
 * a message per commit group was 6–8% of the loop's time. The tree lags the log by up to that much more;
 * whoever waits for the tree (a signature, a proof) has the gathered leaves sent at once (`waitFor`).
 */
const GATHER_LEAVES = 256;
const GATHER_MS = 25;

const silent: IntegrityLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Follows the log by subscription, as the projections do, and keeps the Merkle tree over it: off the append
 * path, so a write never waits for hashing. On start it recomputes the tree from position zero and compares it,
 * leaf by leaf, with the state recorded in the data dir and with every signed head in the log; a difference
 * turns the state to `tampered` for good (readiness, metrics and every proof request say so). It signs heads by
 * the policy and on demand, appending each to the `ledger-heads` stream.
 */
export class IntegrityMonitor {
  private checker: TreeChecker;
  private writer: TreeStateWriter | null = null;
  private subscription: Subscription | null = null;
  /** Every event up to here is in the tree. */
  private current: LogPosition = START;
  /** Every event up to here was received from the subscription (it may still be being hashed). */
  private received: LogPosition = START;
  private hasher: LeafHasher | null = null;
  private batch: StoredEvent[] = [];
  /** The leaves of `batch`, as the hashing worker takes them. */
  private leaves = new LeafBatch();
  /** Cancels the dispatch scheduled (next turn of the loop, or after gathering), if one is. */
  private cancelDispatch: (() => void) | null = null;
  /** The dispatch scheduled is the gathering timer (`GATHER_MS`), not the next turn of the loop. */
  private gathering = false;
  /** Batches sent to the hashing worker whose hashes are not back yet. */
  private hashesOwed = 0;
  /** Received events go into the tree in order, batch after batch, whatever order the hashes come back in. */
  private applying: Promise<void> = Promise.resolve();
  private caughtUp = false;
  private stopped = false;
  private signing: Promise<TreeHead> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private waiters: Array<{ target: LogPosition; resolve: () => void }> = [];
  private readonly logger: IntegrityLogger;
  private readonly now: () => Date;
  private verified: Promise<void>;
  private markVerified!: () => void;

  constructor(
    private readonly store: EventStore,
    private readonly options: IntegrityMonitorOptions,
  ) {
    this.logger = options.logger ?? silent;
    this.now = options.now ?? (() => new Date());
    this.checker = new TreeChecker({ key: options.key, foreignHeads: 'ignore' });
    this.verified = new Promise((resolve) => (this.markVerified = resolve));
  }

  /** Starts following the log; returns at once. `whenVerified()` resolves when the start-up check is done. */
  start(): void {
    const dir = this.options.dataDir;
    let recordedCount = 0;
    if (dir) {
      const state = loadTreeState(dir, this.store.name);
      if (state.kind === 'loaded') {
        recordedCount = state.count;
        this.checker = new TreeChecker({
          key: this.options.key,
          foreignHeads: 'ignore',
          recorded: { leaves: state.leaves, count: state.count },
        });
      } else if (state.kind === 'discarded') {
        this.logger.warn(`tree state discarded (${state.why}); recomputing it from the log`);
      }
      this.writer = TreeStateWriter.open(dir, this.store.name, recordedCount);
    }
    if (this.options.hashOnWorker !== false) this.hasher = LeafHasher.continuing(this.checker.tree);
    this.follow();
    const flush = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    flush.unref();
    this.timers.push(flush);
    if (this.options.policy.everySeconds > 0) {
      const timer = setInterval(() => {
        if (this.caughtUp && this.checker.unsignedLeaves > 0) this.signInBackground('timer');
      }, this.options.policy.everySeconds * 1000);
      timer.unref();
      this.timers.push(timer);
    }
  }

  whenVerified(): Promise<void> {
    return this.verified;
  }

  status(): IntegrityStatus {
    const finding = this.checker.tampered;
    return {
      state: finding ? 'tampered' : this.caughtUp ? 'intact' : 'verifying',
      treeSize: this.checker.size,
      rootHash: toHex(this.checker.tree.root()),
      latestHead: this.checker.latestHead,
      verifiedHeads: this.checker.verifiedHeads,
      foreignHeads: this.checker.foreignHeadCount,
      finding,
    };
  }

  /** The latest head, or the head of exactly `treeSize`; null when there is none. */
  head(treeSize?: number): TreeHead | null {
    this.assertIntact();
    return treeSize === undefined ? this.checker.latestHead : this.checker.headOfSize(treeSize);
  }

  /** Signs the tree as it stands once every acknowledged event is in it, appends the head, and returns it. */
  async signHead(): Promise<TreeHead> {
    this.assertIntact();
    if (this.signing) await this.signing.catch(() => undefined);
    const signing = (async () => {
      await this.waitFor(await this.store.headPosition());
      this.assertIntact();
      const size = this.checker.size;
      const head = signTreeHead(
        size,
        toHex(this.checker.tree.root(size)),
        this.now().toISOString(),
        this.options.signer,
      );
      const result = await this.store.append({
        stream: TREE_HEADS_STREAM,
        // Heads never conflict: each states a fact about a prefix of the log.
        expectedRevision: 'any',
        events: [treeHeadEvent(head, randomUUID())],
      });
      await this.waitFor(result.position);
      return head;
    })();
    this.signing = signing;
    try {
      return await signing;
    } finally {
      if (this.signing === signing) this.signing = null;
    }
  }

  /** Signs a head now and says where its tree ends: what an export is cut at. */
  async cutExportAt(): Promise<{ treeHead: TreeHead; upTo: LogPosition; tree: LogTreeSnapshot }> {
    const treeHead = await this.signHead();
    return {
      treeHead,
      upTo: treeHead.treeSize === 0 ? START : this.checker.positionOf(treeHead.treeSize - 1),
      tree: this.checker.snapshot(),
    };
  }

  async inclusionProof(eventId: string, treeSize?: number): Promise<InclusionProof> {
    this.assertIntact();
    const size = treeSize ?? this.defaultSize();
    this.assertSize(size);
    const index = await this.leafIndexOf(eventId);
    if (index === null) throw new NotInTreeError(`event ${eventId} is not in the log`);
    if (index >= size) {
      throw new NotInTreeError(
        `event ${eventId} is leaf ${index}, not in a tree of ${size}; sign a newer head`,
      );
    }
    return {
      leafIndex: index,
      treeSize: size,
      leafHash: toHex(this.checker.tree.leafHash(index)),
      auditPath: this.checker.tree.inclusionProof(index, size).map(toHex),
    };
  }

  consistencyProof(fromSize: number, toSize?: number): ConsistencyProof {
    this.assertIntact();
    const to = toSize ?? this.defaultSize();
    this.assertSize(to);
    if (fromSize > to) throw new NotInTreeError(`from (${fromSize}) is larger than to (${to})`);
    return { fromSize, toSize: to, proof: this.checker.tree.consistencyProof(fromSize, to).map(toHex) };
  }

  rootHash(treeSize: number): string {
    this.assertSize(treeSize);
    return toHex(this.checker.tree.root(treeSize));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.dispatch();
    await this.applying;
    await this.hasher?.close();
    this.hasher = null;
    await this.signing?.catch(() => undefined);
    await this.flush();
    await this.writer?.close();
  }

  private defaultSize(): number {
    const latest = this.checker.latestHead;
    if (!latest) throw new NotInTreeError('no signed tree head yet: sign one first (POST /v1/log/heads)');
    return latest.treeSize;
  }

  private assertSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.checker.size) {
      throw new NotInTreeError(`tree size ${size} is beyond the tree's ${this.checker.size} leaves`);
    }
  }

  private assertIntact(): void {
    const finding = this.checker.tampered;
    if (finding) throw new LogTamperedError(finding);
  }

  /** Finds the leaf of an event id: fingerprint candidates, each confirmed by reading that event back. */
  private async leafIndexOf(eventId: string): Promise<number | null> {
    for (const index of this.checker.candidatesFor(eventId)) {
      const from = index === 0 ? START : this.checker.positionOf(index - 1);
      const page = await this.store.readAll({ from, direction: 'forwards', maxCount: 1 });
      const event = page.events[0];
      if (
        event &&
        event.eventId === eventId &&
        comparePositions(event.position, this.checker.positionOf(index)) === 0
      ) {
        return index;
      }
    }
    return null;
  }

  private follow(): void {
    if (this.stopped) return;
    // Stored, not parsed: a leaf hashes the stored text, so parsing it only to serialize it back is waste.
    this.subscription = this.store.subscribeToAllStored({ from: this.received }).subscribe({
      next: (message) => {
        if (message.kind === 'event') {
          const { event } = message;
          if (comparePositions(event.position, this.received) <= 0) return;
          this.received = event.position;
          this.batch.push(event);
          if (this.hasher) this.leaves.add(storedLeafText(event));
          if (this.batch.length >= HASH_BATCH) this.dispatch();
          else this.scheduleDispatch();
        } else {
          this.dispatch();
          const position = message.position;
          this.enqueue(() => this.onCaughtUp(position));
        }
      },
      error: (error: unknown) => {
        this.subscription = null;
        if (this.stopped) return;
        this.logger.error(`integrity subscription failed: ${(error as Error).message}; resubscribing`);
        const timer = setTimeout(() => this.follow(), 500);
        timer.unref();
        this.timers.push(timer);
      },
    });
  }

  /** Hands the received events to the hasher; they enter the tree when their hashes are back. */
  private dispatch(): void {
    this.cancelDispatch?.();
    this.cancelDispatch = null;
    this.gathering = false;
    if (this.batch.length === 0) return;
    const events = this.batch;
    let hashing: Promise<Buffer> | null = null;
    if (this.hasher) hashing = this.hasher.hash(this.leaves);
    // The hasher failed after these leaves were added: they are hashed here, from the events.
    else if (this.leaves.count > 0) this.leaves.take();
    if (hashing) {
      // While a batch is with the worker, new events wait for its answer and then go in one message.
      this.hashesOwed++;
      const answered = () => {
        this.hashesOwed--;
        this.scheduleDispatch();
      };
      // Awaited in turn below; a failure there is handled, not unhandled.
      hashing.then(answered, answered);
    }
    this.batch = [];
    this.enqueue(async () => {
      let hashes: Buffer | null = null;
      if (hashing) {
        try {
          hashes = await hashing;
        } catch (error) {
          // The worker mirrors the tree's right edge; once a batch is lost it is out of step for good.
          if (this.hasher && !this.stopped) {
            this.logger.warn(
              `leaf hashing worker failed (${(error as Error).message}); hashing on the main thread`,
            );
            void this.hasher.close();
            this.hasher = null;
          }
        }
      }
      let offset = 0;
      for (const event of events) {
        const wasTampered = this.checker.tampered !== null;
        if (hashes) offset = this.checker.addHashed(event, hashes, offset);
        else this.checker.add(event);
        if (this.checker.tampered && !wasTampered) this.onTampered();
        this.advance(event.position);
      }
      // The tree copied what it keeps of them.
      if (hashes) this.hasher?.recycle(hashes);
      if (this.writer && this.writer.recorded + FLUSH_EVERY_LEAVES < this.checker.size) void this.flush();
      const every = this.options.policy.everyEvents;
      if (this.caughtUp && every > 0 && this.checker.unsignedLeaves >= every) this.signInBackground('count');
    });
  }

  /** Leaves go to the worker one message at a time; a few leaves wait a little for more (`GATHER_MS`). */
  private scheduleDispatch(): void {
    if (this.cancelDispatch !== null || this.hashesOwed > 0 || this.batch.length === 0) return;
    this.gathering = this.batch.length < GATHER_LEAVES && this.hasher !== null && this.waiters.length === 0;
    if (this.gathering) {
      const timer = setTimeout(() => this.dispatch(), GATHER_MS);
      this.cancelDispatch = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(() => this.dispatch());
      this.cancelDispatch = () => clearImmediate(immediate);
    }
  }

  private enqueue(step: () => void | Promise<void>): void {
    this.applying = this.applying.then(step).catch((error: unknown) => {
      this.logger.error(`following the log failed: ${(error as Error).message}`);
    });
  }

  private onCaughtUp(position: LogPosition): void {
    if (!this.caughtUp) {
      const wasTampered = this.checker.tampered !== null;
      this.checker.end();
      for (const kept of this.options.keptHeads ?? []) {
        if (this.checker.tampered) break;
        const finding = checkKeptHead(this.checker, kept, this.options.key);
        if (finding) this.checker.report(finding);
      }
      if (this.checker.tampered && !wasTampered) this.onTampered();
      this.caughtUp = true;
      this.markVerified();
      if (!this.checker.tampered) {
        this.logger.log(
          `log integrity verified: ${this.checker.size} events, ${this.checker.verifiedHeads} signed heads match`,
        );
      }
    }
    if (comparePositions(position, this.current) > 0) this.advance(position);
  }

  private onTampered(): void {
    const finding = this.checker.tampered as TamperFinding;
    this.logger.error(`LOG TAMPERED: ${finding.message}`);
    // Leaves after a tampered one are not what the ledger saw; the recorded state is kept as evidence.
    this.writer = null;
    this.markVerified();
  }

  private signInBackground(reason: string): void {
    if (this.signing || this.checker.tampered) return;
    this.signHead().then(
      (head) => this.logger.log(`signed tree head of size ${head.treeSize} (${reason})`),
      (error: unknown) => this.logger.warn(`signing a tree head failed: ${(error as Error).message}`),
    );
  }

  private flush(): Promise<void> {
    const writer = this.writer;
    if (!writer) return Promise.resolve();
    // Only leaves the log and the recorded state agreed on are recorded: none once it was tampered.
    return writer
      .flush(this.checker.size, (from, to) => this.checker.tree.leafHashes(from, to))
      .then(() => {
        if (writer.error) this.logger.error(`writing the tree state failed: ${writer.error.message}`);
      });
  }

  private advance(position: LogPosition): void {
    this.current = position;
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => {
      if (comparePositions(position, waiter.target) < 0) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once the tree holds every event up to `target`; rejects after `timeoutMs`. */
  waitFor(target: LogPosition, timeoutMs = 30_000): Promise<void> {
    if (comparePositions(this.current, target) >= 0) return Promise.resolve();
    const waiting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        reject(
          new NotInTreeError(`the tree did not reach ${positionToToken(target)} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ target, resolve: done });
    });
    // Someone waits for the tree: the leaves gathered so far go now, not at the end of the gathering.
    if (this.gathering) {
      this.cancelDispatch?.();
      this.cancelDispatch = null;
      this.scheduleDispatch();
    }
    return waiting;
  }
}

/**
 * The test server's storage: one append-only log in memory, indexed by stream and by event id.
 *
 * Positions imitate EventStoreDB's: byte offsets of records in a transaction file, so they grow by each record's
 * size and are never consecutive numbers. Every event of a normal append has `commit === prepare`, as on a real
 * server since 20.6. Event bodies are copied into large shared buffers so a million events cost little more than
 * their bytes.
 */

export type ExpectedState =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'stream_exists' }
  | { readonly kind: 'revision'; readonly revision: number };

export interface ProposedEvent {
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}

export type AppendOutcome =
  | {
      readonly kind: 'success';
      /** Revision of the last event of the append, -1 when the stream still does not exist (empty append). */
      readonly currentRevision: number;
      /** Log position of the last written event; null when nothing was written (idempotent retry, empty append). */
      readonly position: number | null;
    }
  | {
      readonly kind: 'wrong_expected_version';
      /** -1: the stream does not exist. */
      readonly currentRevision: number;
      readonly expected: ExpectedState;
    };

export class StreamState {
  readonly events: StoredEvent[] = [];
  readonly nameBytes: Buffer;

  constructor(readonly name: string) {
    this.nameBytes = Buffer.from(name, 'utf8');
  }

  get lastRevision(): number {
    return this.events.length - 1;
  }
}

export class StoredEvent {
  constructor(
    readonly stream: StreamState,
    readonly revision: number,
    readonly id: string,
    readonly type: string,
    readonly contentType: string,
    /** Milliseconds since the Unix epoch. */
    readonly createdMs: number,
    /** Commit and prepare position (equal for a normal append). */
    readonly position: number,
    private readonly chunk: Buffer,
    private readonly dataStart: number,
    private readonly dataEnd: number,
    private readonly metadataEnd: number,
  ) {}

  get data(): Uint8Array {
    return this.chunk.subarray(this.dataStart, this.dataEnd);
  }

  get metadata(): Uint8Array {
    return this.chunk.subarray(this.dataEnd, this.metadataEnd);
  }
}

const CHUNK_SIZE = 8 * 1024 * 1024;
/** Bytes a record costs besides its stream name, type, data and metadata (flags, ids, lengths, timestamps). */
const RECORD_OVERHEAD = 83;

class ByteArena {
  private chunk = Buffer.allocUnsafe(CHUNK_SIZE);
  private offset = 0;

  /** Copies both byte arrays next to each other and returns where they landed. */
  store(first: Uint8Array, second: Uint8Array): { chunk: Buffer; start: number } {
    const size = first.length + second.length;
    if (size > CHUNK_SIZE / 4) {
      const own = Buffer.allocUnsafe(size);
      own.set(first, 0);
      own.set(second, first.length);
      return { chunk: own, start: 0 };
    }
    if (this.offset + size > this.chunk.length) {
      this.chunk = Buffer.allocUnsafe(CHUNK_SIZE);
      this.offset = 0;
    }
    const start = this.offset;
    this.chunk.set(first, start);
    this.chunk.set(second, start + first.length);
    this.offset += size;
    return { chunk: this.chunk, start };
  }
}

export interface InMemoryLogOptions {
  /** Position of the first event. Real logs start after a few kilobytes of system records. */
  readonly firstPosition?: number;
  readonly clock?: () => number;
}

export class InMemoryLog {
  /** Every event in log order. */
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  private readonly byId = new Map<string, StoredEvent>();
  private readonly interned = new Map<string, string>();
  private readonly arena = new ByteArena();
  private readonly listeners = new Set<() => void>();
  private nextPosition: number;
  private readonly clock: () => number;

  constructor(options: InMemoryLogOptions = {}) {
    this.nextPosition = options.firstPosition ?? 4_096;
    this.clock = options.clock ?? Date.now;
  }

  stream(name: string): StreamState | undefined {
    return this.streams.get(name);
  }

  /** Called after every append that wrote at least one event. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  append(streamName: string, expected: ExpectedState, events: readonly ProposedEvent[]): AppendOutcome {
    const stream = this.streams.get(streamName);
    const current = stream ? stream.lastRevision : -1;
    const decision = this.check(stream, current, expected, events);
    if (decision.kind !== 'write') return decision;
    if (events.length === 0) return { kind: 'success', currentRevision: current, position: null };

    const target = stream ?? this.createStream(streamName);
    const createdMs = this.clock();
    let last: StoredEvent | undefined;
    for (const proposed of events) {
      const { chunk, start } = this.arena.store(proposed.data, proposed.metadata);
      const type = this.intern(proposed.type);
      const event = new StoredEvent(
        target,
        target.events.length,
        proposed.id,
        type,
        this.intern(proposed.contentType),
        createdMs,
        this.nextPosition,
        chunk,
        start,
        start + proposed.data.length,
        start + proposed.data.length + proposed.metadata.length,
      );
      this.nextPosition +=
        RECORD_OVERHEAD +
        target.nameBytes.length +
        type.length +
        proposed.data.length +
        proposed.metadata.length;
      target.events.push(event);
      this.all.push(event);
      this.byId.set(event.id, event);
      last = event;
    }
    for (const listener of [...this.listeners]) listener();
    return { kind: 'success', currentRevision: target.lastRevision, position: last ? last.position : null };
  }

  /** Index in `all` of the first event at or after `position`. */
  indexAtOrAfter(position: number): number {
    let low = 0;
    let high = this.all.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.all[middle].position < position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Index in `all` of the first event strictly after `position`. */
  indexAfter(position: number): number {
    let low = 0;
    let high = this.all.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.all[middle].position <= position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * EventStoreDB's commit check: a write whose expected revision matches is written; one whose events are
   * already the stream's events at the expected place is an idempotent success; anything else is a wrong
   * expected version (including a retry that only partly matches).
   */
  private check(
    stream: StreamState | undefined,
    current: number,
    expected: ExpectedState,
    events: readonly ProposedEvent[],
  ): AppendOutcome | { kind: 'write' } {
    const wrong: AppendOutcome = { kind: 'wrong_expected_version', currentRevision: current, expected };
    switch (expected.kind) {
      case 'any':
        return this.idempotentById(stream, events, expected) ?? { kind: 'write' };
      case 'stream_exists':
        if (current < 0) return wrong;
        return this.idempotentById(stream, events, expected) ?? { kind: 'write' };
      case 'no_stream':
        return this.checkRevision(stream, current, -1, events, wrong);
      case 'revision':
        return this.checkRevision(stream, current, expected.revision, events, wrong);
    }
  }

  private checkRevision(
    stream: StreamState | undefined,
    current: number,
    expectedRevision: number,
    events: readonly ProposedEvent[],
    wrong: AppendOutcome,
  ): AppendOutcome | { kind: 'write' } {
    if (expectedRevision === current) return { kind: 'write' };
    if (!stream || expectedRevision > current || events.length === 0) return wrong;
    for (let i = 0; i < events.length; i++) {
      const existing = stream.events[expectedRevision + 1 + i];
      if (!existing || existing.id !== events[i].id) return wrong;
    }
    return { kind: 'success', currentRevision: expectedRevision + events.length, position: null };
  }

  private idempotentById(
    stream: StreamState | undefined,
    events: readonly ProposedEvent[],
    expected: ExpectedState,
  ): AppendOutcome | null {
    if (!stream || events.length === 0) return null;
    const first = this.byId.get(events[0].id);
    if (!first || first.stream !== stream) return null;
    for (let i = 0; i < events.length; i++) {
      const existing = stream.events[first.revision + i];
      if (!existing || existing.id !== events[i].id) {
        return { kind: 'wrong_expected_version', currentRevision: stream.lastRevision, expected };
      }
    }
    return { kind: 'success', currentRevision: first.revision + events.length - 1, position: null };
  }

  private createStream(name: string): StreamState {
    const stream = new StreamState(name);
    this.streams.set(name, stream);
    return stream;
  }

  private intern(text: string): string {
    const known = this.interned.get(text);
    if (known !== undefined) return known;
    if (this.interned.size < 10_000) this.interned.set(text, text);
    return text;
  }
}

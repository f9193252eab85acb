/**
 * The test server's storage: one append-only log in memory, indexed by stream and by event id.
 *
 * Positions imitate EventStoreDB's: byte offsets of records in a transaction file, so they grow by each record's
 * size and are never consecutive numbers. Every event of a normal append has `commit === prepare`, as on a real
 * server since 20.6. Event bodies are copied into large shared buffers so a million events cost little more than
 * their bytes.
 */

import { randomUUID } from 'node:crypto';

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

/** The revision EventStoreDB gives a tombstone (`$streamDeleted`): 2^63 - 1. Kept apart from JS numbers. */
export const TOMBSTONE_REVISION_TEXT = '9223372036854775807';
/** `$tb` of a soft-deleted stream (EventNumber.DeletedStream); parsed JSON rounds it up, so compare with >=. */
const SOFT_DELETED_TB = 2 ** 63;
const TOMBSTONE_TYPE = '$streamDeleted';
const METADATA_TYPE = '$metadata';

export function metastreamOf(stream: string): string {
  return `$$${stream}`;
}

/** The stream metadata the server applies on reads (the rest, such as ACLs, is stored and not enforced). */
export interface AppliedMetadata {
  readonly maxCount?: number;
  /** Seconds. */
  readonly maxAge?: number;
  readonly truncateBefore?: number;
  readonly raw: Record<string, unknown>;
}

export type DeleteOutcome =
  | { readonly kind: 'success'; readonly position: number }
  | { readonly kind: 'stream_deleted' }
  | {
      readonly kind: 'wrong_expected_version';
      readonly currentRevision: number;
      readonly expected: ExpectedState;
    };

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
    }
  | { readonly kind: 'stream_deleted' };

export class StreamState {
  readonly events: StoredEvent[] = [];
  readonly nameBytes: Buffer;
  /** Hard-deleted: the stream name can never be used again. */
  tombstone: StoredEvent | null = null;

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

  /** The `$streamDeleted` record of a hard delete: its revision is 2^63 - 1 on the wire. */
  get isTombstone(): boolean {
    return this.stream.tombstone === this;
  }

  get revisionText(): string {
    return this.isTombstone ? TOMBSTONE_REVISION_TEXT : String(this.revision);
  }

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

export function isMetastream(stream: string): boolean {
  return stream.startsWith('$$');
}

export class InMemoryLog {
  /** Every event in log order. */
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  private readonly byId = new Map<string, StoredEvent>();
  private readonly interned = new Map<string, string>();
  private readonly arena = new ByteArena();
  private readonly listeners = new Set<() => void>();
  private readonly parsedMetadata = new WeakMap<StoredEvent, AppliedMetadata>();
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
    if (this.isDeletedForWrites(streamName)) return { kind: 'stream_deleted' };
    const stream = this.streams.get(streamName);
    const current = stream ? stream.lastRevision : -1;
    // A soft-deleted stream is recreated by the next append, at the revision after its last event.
    const softDeleted = stream !== undefined && current >= 0 && this.isSoftDeleted(streamName);
    const decision =
      softDeleted && expected.kind === 'no_stream'
        ? ({ kind: 'write' } as const)
        : this.check(stream, current, expected, events);
    if (decision.kind !== 'write') return decision;
    if (events.length === 0) return { kind: 'success', currentRevision: current, position: null };

    const target = stream ?? this.createStream(streamName);
    const last = this.write(target, events);
    if (softDeleted) {
      const metadata = this.metadataOf(streamName).raw;
      this.write(this.streamOrCreate(metastreamOf(streamName)), [
        this.metadataEvent({ ...metadata, $tb: current + 1 }),
      ]);
    }
    this.notify();
    return { kind: 'success', currentRevision: target.lastRevision, position: last.position };
  }

  /**
   * Soft delete (`hard` false) sets the stream's `$tb` to EventNumber.DeletedStream, keeping its other metadata;
   * hard delete writes a `$streamDeleted` tombstone, after which every read and write of the stream fails.
   */
  delete(streamName: string, expected: ExpectedState, hard: boolean): DeleteOutcome {
    const stream = this.streams.get(streamName);
    if (stream?.tombstone) return { kind: 'stream_deleted' };
    const current = stream ? stream.lastRevision : -1;
    const matches =
      expected.kind === 'any' ||
      (expected.kind === 'no_stream' && current < 0) ||
      (expected.kind === 'stream_exists' && current >= 0) ||
      (expected.kind === 'revision' && expected.revision === current);
    if (!matches) return { kind: 'wrong_expected_version', currentRevision: current, expected };
    let written: StoredEvent;
    if (hard) {
      const target = stream ?? this.createStream(streamName);
      written = this.record(target, -1, {
        id: randomUUID(),
        type: TOMBSTONE_TYPE,
        contentType: 'application/octet-stream',
        data: new Uint8Array(0),
        metadata: new Uint8Array(0),
      });
      target.tombstone = written;
      this.all.push(written);
    } else {
      const metadata = this.metadataOf(streamName).raw;
      written = this.write(this.streamOrCreate(metastreamOf(streamName)), [
        this.metadataEvent({ ...metadata, $tb: SOFT_DELETED_TB }),
      ]);
    }
    this.notify();
    return { kind: 'success', position: written.position };
  }

  /** The metadata in force for a stream: the last event of its metastream. */
  metadataOf(streamName: string): AppliedMetadata {
    const last = this.streams.get(metastreamOf(streamName))?.events.at(-1);
    if (!last || last.type !== METADATA_TYPE) return { raw: {} };
    const cached = this.parsedMetadata.get(last);
    if (cached) return cached;
    let raw: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(Buffer.from(last.data).toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        raw = parsed as Record<string, unknown>;
    } catch {
      raw = {};
    }
    const count = (key: string): number | undefined => {
      const value = raw[key];
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
    };
    const applied: AppliedMetadata = {
      raw,
      maxCount: count('$maxCount'),
      maxAge: count('$maxAge'),
      truncateBefore: count('$tb'),
    };
    this.parsedMetadata.set(last, applied);
    return applied;
  }

  isSoftDeleted(streamName: string): boolean {
    return (this.metadataOf(streamName).truncateBefore ?? 0) >= SOFT_DELETED_TB;
  }

  /**
   * What a stream read may return: nothing of a soft-deleted stream, and for the others the events left by
   * `$tb`, `$maxCount` and `$maxAge` (a metastream keeps only its last event). The events stay in `$all` as
   * they do on a real node until a scavenge.
   */
  visibleWindow(stream: StreamState): { readonly from: number; readonly notBeforeMs: number } | null {
    if (isMetastream(stream.name)) return { from: Math.max(0, stream.lastRevision), notBeforeMs: 0 };
    const metadata = this.metadataOf(stream.name);
    const truncateBefore = metadata.truncateBefore ?? 0;
    if (truncateBefore >= SOFT_DELETED_TB) return null;
    const byCount = metadata.maxCount === undefined ? 0 : stream.events.length - metadata.maxCount;
    return {
      from: Math.max(0, truncateBefore, byCount),
      notBeforeMs: metadata.maxAge === undefined ? 0 : this.clock() - metadata.maxAge * 1000,
    };
  }

  /** Streams whose writes fail with StreamDeleted: tombstoned ones and their metastreams. */
  isDeletedForWrites(streamName: string): boolean {
    if (this.streams.get(streamName)?.tombstone) return true;
    return isMetastream(streamName) && Boolean(this.streams.get(streamName.slice(2))?.tombstone);
  }

  /** The event a `$>` link points at (`revision@stream`), if it can still be read. */
  resolveLink(link: StoredEvent): StoredEvent | undefined {
    if (link.type !== '$>') return undefined;
    const text = Buffer.from(link.data).toString('utf8');
    const at = text.indexOf('@');
    if (at < 1) return undefined;
    const revision = Number(text.slice(0, at));
    const target = this.streams.get(text.slice(at + 1));
    if (!target || target.tombstone || !Number.isInteger(revision)) return undefined;
    const window = this.visibleWindow(target);
    const event = target.events[revision];
    if (!window || !event || revision < window.from || event.createdMs < window.notBeforeMs) return undefined;
    return event;
  }

  private write(target: StreamState, events: readonly ProposedEvent[]): StoredEvent {
    let last: StoredEvent | undefined;
    for (const proposed of events) {
      const event = this.record(target, target.events.length, proposed);
      target.events.push(event);
      this.all.push(event);
      this.byId.set(event.id, event);
      last = event;
    }
    if (!last) throw new Error('write of no events');
    return last;
  }

  private record(target: StreamState, revision: number, proposed: ProposedEvent): StoredEvent {
    const { chunk, start } = this.arena.store(proposed.data, proposed.metadata);
    const type = this.intern(proposed.type);
    const event = new StoredEvent(
      target,
      revision,
      proposed.id,
      type,
      this.intern(proposed.contentType),
      this.clock(),
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
    return event;
  }

  private metadataEvent(metadata: Record<string, unknown>): ProposedEvent {
    // EventNumber.DeletedStream does not survive JSON.stringify as a double; write it as the integer it is.
    const json = JSON.stringify(metadata, (key, value: unknown) =>
      key === '$tb' && value === SOFT_DELETED_TB ? '__deleted_stream__' : value,
    ).replace('"__deleted_stream__"', TOMBSTONE_REVISION_TEXT);
    return {
      id: randomUUID(),
      type: METADATA_TYPE,
      contentType: 'application/json',
      data: Buffer.from(json, 'utf8'),
      metadata: new Uint8Array(0),
    };
  }

  private streamOrCreate(name: string): StreamState {
    return this.streams.get(name) ?? this.createStream(name);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
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

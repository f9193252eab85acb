/**
 * The test server's projections: continuous projections that read `$all` in log order, existing events first
 * and then each new one, and write what they emit back into the log as EventStoreDB's projections do. Two kinds
 * run here: the system projections a node starts with (`$by_category`, `$by_event_type`, `$stream_by_category`,
 * `$streams`; created stopped, as on a node without `--start-standard-projections`), and user projections whose
 * JavaScript query runs in `node:vm` (see projection-query.ts). One projection is not partitioned: it has one
 * state. Processing runs after the append that woke it (a later turn of the event loop, never inside the
 * client's call), a bounded number of events per turn so that a long catch-up does not stall the server.
 */
import { randomUUID } from 'node:crypto';
import type { InMemoryLog, ProposedEvent, StoredEvent } from '../in-memory-log';
import {
  ProjectionQueryError,
  compileProjectionQuery,
  type CompiledQuery,
  type ProjectionEffects,
  type ProjectionEvent,
} from './projection-query';

/** `Aborted`: disabled without writing a checkpoint (the client's abortProjection). */
export type ProjectionStatus = 'Running' | 'Stopped' | 'Aborted' | 'Faulted';

export interface ProjectionView {
  readonly name: string;
  /** `Continuous` for user projections, as EventStoreDB reports them; system projections are continuous too. */
  readonly mode: 'Continuous';
  readonly status: ProjectionStatus;
  /** Why it faulted; empty otherwise. */
  readonly stateReason: string;
  readonly query: string;
  readonly emitEnabled: boolean;
  readonly eventsProcessed: number;
  /** Log position of the last event it processed (or skipped), null before the first. */
  readonly position: number | null;
  /** Events of `$all` it has yet to look at. */
  readonly pending: number;
  /** The state as JSON would carry it; undefined for system projections, which keep none. */
  readonly state: unknown;
}

export class ProjectionNotFound extends Error {
  constructor(readonly projection: string) {
    super(`Projection '${projection}' not found.`);
  }
}

export class ProjectionConflict extends Error {}

/** Events each projection looks at per turn of the event loop before yielding to the server's calls. */
const EVENTS_PER_TURN = 2_000;
const LINK_TYPE = '$>';

/** What a projection writes for one event: an event, to a stream. */
interface Emitted {
  readonly stream: string;
  readonly event: ProposedEvent;
}

type SystemHandler = (event: StoredEvent) => readonly Emitted[];

/**
 * EventStoreDB's default category rule: the part of the stream name before its first `-`; the streams of the
 * system (`$` prefix) have none.
 */
function categoryOf(stream: string): string | null {
  if (stream.startsWith('$')) return null;
  const dash = stream.indexOf('-');
  return dash > 0 ? stream.slice(0, dash) : null;
}

/** The event a projection was handling when it wrote something: named in what it writes. */
interface Cause {
  readonly id: string;
  readonly position: number;
  readonly stream: string;
}

const causeOf = (event: StoredEvent): Cause => ({
  id: event.id,
  position: event.position,
  stream: event.stream.name,
});

const pointerTo = (event: StoredEvent): string => `${event.revision}@${event.stream.name}`;

/**
 * The standard projections, as EventStoreDB's handlers define them: `$by_category` links every event of a
 * categorised stream into `$ce-<category>` (a link in such a stream is linked to what it points at);
 * `$by_event_type` links every event but links into `$et-<type>`; `$stream_by_category` writes a `$@` stream
 * reference into `$category-<category>` for the first event of each categorised stream; `$streams` links the
 * first event of every stream into `$streams`. Tombstones are not indexed here.
 */
const SYSTEM_PROJECTIONS: ReadonlyMap<string, SystemHandler> = new Map<string, SystemHandler>([
  [
    '$by_category',
    (event) => {
      const category = categoryOf(event.stream.name);
      if (category === null) return [];
      const target = event.type === LINK_TYPE ? Buffer.from(event.data).toString('utf8') : pointerTo(event);
      return [{ stream: `$ce-${category}`, event: linkEvent(target, causeOf(event), {}) }];
    },
  ],
  [
    '$by_event_type',
    (event) =>
      event.type === LINK_TYPE
        ? []
        : [{ stream: `$et-${event.type}`, event: linkEvent(pointerTo(event), causeOf(event), {}) }],
  ],
  [
    '$stream_by_category',
    (event) => {
      const category = categoryOf(event.stream.name);
      if (category === null || event.revision !== 0) return [];
      return [{ stream: `$category-${category}`, event: streamReference(event.stream.name, causeOf(event)) }];
    },
  ],
  [
    '$streams',
    (event) =>
      event.revision === 0
        ? [{ stream: '$streams', event: linkEvent(pointerTo(event), causeOf(event), {}) }]
        : [],
  ],
]);

interface Projection {
  readonly name: string;
  readonly query: string;
  readonly emitEnabled: boolean;
  status: ProjectionStatus;
  stateReason: string;
  /** Index in `log.all` of the next event to look at. */
  cursor: number;
  eventsProcessed: number;
  /** Handles one event; throws ProjectionQueryError to fault the projection at it. */
  readonly process: (event: StoredEvent) => void;
  readonly state: () => unknown;
}

export class ProjectionSubsystem {
  private readonly projections = new Map<string, Projection>();
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly log: InMemoryLog) {
    for (const [name, handler] of SYSTEM_PROJECTIONS) this.projections.set(name, this.system(name, handler));
    log.onAppend(() => this.schedule());
  }

  /**
   * A continuous user projection, running from the start of `$all`. A query that does not evaluate still
   * creates the projection, faulted with the reason, as EventStoreDB does.
   */
  create(name: string, query: string, emitEnabled: boolean): void {
    if (name === '') throw new ProjectionConflict('a projection needs a name');
    if (this.projections.has(name)) throw new ProjectionConflict(`Projection '${name}' already exists.`);
    const projection = this.user(name, query, emitEnabled);
    this.projections.set(name, projection);
    this.schedule();
  }

  enable(name: string): void {
    const projection = this.find(name);
    projection.status = 'Running';
    projection.stateReason = '';
    this.schedule();
  }

  /**
   * Stops a running projection. Without `writeCheckpoint` it is `Aborted`, as EventStoreDB reports it; a
   * projection here keeps its position after every event, so enabling it again resumes where it stopped either way.
   */
  disable(name: string, writeCheckpoint: boolean): void {
    const projection = this.find(name);
    if (projection.status === 'Running') projection.status = writeCheckpoint ? 'Stopped' : 'Aborted';
  }

  view(name: string): ProjectionView {
    return this.describe(this.find(name));
  }

  list(): ProjectionView[] {
    return [...this.projections.values()].map((projection) => this.describe(projection));
  }

  /** Runs every running projection to the head of the log now (tests that need no wait use it). */
  catchUp(): void {
    for (let progressed = true; progressed;) {
      progressed = false;
      for (const projection of this.projections.values()) {
        while (projection.status === 'Running' && projection.cursor < this.log.all.length) {
          this.step(projection, Number.POSITIVE_INFINITY);
          progressed = true;
        }
      }
    }
  }

  private describe(projection: Projection): ProjectionView {
    const last = projection.cursor > 0 ? this.log.all[projection.cursor - 1] : undefined;
    return {
      name: projection.name,
      mode: 'Continuous',
      status: projection.status,
      stateReason: projection.stateReason,
      query: projection.query,
      emitEnabled: projection.emitEnabled,
      eventsProcessed: projection.eventsProcessed,
      position: last ? last.position : null,
      pending: this.log.all.length - projection.cursor,
      state: projection.state(),
    };
  }

  private find(name: string): Projection {
    const projection = this.projections.get(name);
    if (!projection) throw new ProjectionNotFound(name);
    return projection;
  }

  private schedule(): void {
    if (this.scheduled) return;
    // Most servers run no projection: an append then costs nothing here.
    if (![...this.projections.values()].some((projection) => projection.status === 'Running')) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = null;
      let more = false;
      for (const projection of this.projections.values()) {
        if (projection.status !== 'Running') continue;
        this.step(projection, EVENTS_PER_TURN);
        if (projection.status === 'Running' && projection.cursor < this.log.all.length) more = true;
      }
      if (more) this.schedule();
    });
    // A server being stopped need not wait for projections that are catching up.
    this.scheduled.unref();
  }

  /** Looks at up to `limit` events; a handler's error faults the projection at the event that caused it. */
  private step(projection: Projection, limit: number): void {
    const end = Math.min(this.log.all.length, projection.cursor + limit);
    while (projection.status === 'Running' && projection.cursor < end) {
      const event = this.log.all[projection.cursor];
      try {
        projection.process(event);
      } catch (error) {
        projection.status = 'Faulted';
        projection.stateReason =
          error instanceof Error ? error.message : `the projection failed: ${String(error)}`;
        return;
      }
      projection.cursor += 1;
    }
  }

  private system(name: string, handler: SystemHandler): Projection {
    const projection: Projection = {
      name,
      query: '',
      emitEnabled: true,
      status: 'Stopped',
      stateReason: '',
      cursor: 0,
      eventsProcessed: 0,
      state: () => undefined,
      process: (event) => {
        if (event.isTombstone) return;
        const emitted = handler(event);
        for (const { stream, event: written } of emitted) this.write(stream, [written]);
        if (emitted.length > 0) projection.eventsProcessed += 1;
      },
    };
    return projection;
  }

  private user(name: string, query: string, emitEnabled: boolean): Projection {
    /** What the handler running now has asked to write; written only if it returns. */
    let effects: Emitted[] = [];
    let current: StoredEvent | undefined;
    const during = (call: string): StoredEvent => {
      if (!current) throw new ProjectionQueryError(`${call}() may only be called from a handler`);
      return current;
    };
    const sink: ProjectionEffects = {
      linkTo: (stream, event, metadata) => {
        during('linkTo');
        requireEmit(emitEnabled);
        const { target, cause } = linkedByHandler(event);
        effects.push({ stream, event: linkEvent(target, cause, objectOrEmpty(metadata)) });
      },
      emit: (stream, eventType, data, metadata) => {
        const cause = during('emit');
        requireEmit(emitEnabled);
        effects.push({ stream, event: emittedEvent(cause, eventType, data, objectOrEmpty(metadata)) });
      },
    };
    let compiled: CompiledQuery | null = null;
    let failure = '';
    try {
      compiled = compileProjectionQuery(query, () => sink);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    let state: unknown;
    let initialized = false;
    const projection: Projection = {
      name,
      query,
      emitEnabled,
      status: compiled ? 'Running' : 'Faulted',
      stateReason: failure,
      cursor: 0,
      eventsProcessed: 0,
      state: () => (initialized ? jsonCopy(state) : undefined),
      process: (event) => {
        if (!compiled) throw new ProjectionQueryError(failure);
        const delivered = this.delivered(compiled, event);
        if (!delivered || !compiled.handles(delivered.event.type)) return;
        if (!initialized) {
          state = compiled.initialState();
          initialized = true;
        }
        effects = [];
        current = delivered.event;
        try {
          const next = compiled.handle(state, envelope(delivered.event, delivered.link));
          if (next !== undefined) state = next;
        } finally {
          current = undefined;
        }
        for (const effect of effects) this.write(effect.stream, [effect.event]);
        effects = [];
        projection.eventsProcessed += 1;
      },
    };
    return projection;
  }

  /** The event a user projection's handlers get for an event of `$all`, resolving links read from streams. */
  private delivered(
    query: CompiledQuery,
    event: StoredEvent,
  ): { event: StoredEvent; link?: StoredEvent } | null {
    if (event.isTombstone) return null;
    const source = query.source;
    if (source.kind === 'all') {
      return event.type === LINK_TYPE && !query.includeLinks ? null : { event };
    }
    const stream = event.stream.name;
    const selected =
      source.kind === 'streams' ? source.streams.has(stream) : stream === `$ce-${source.category}`;
    if (!selected) return null;
    if (event.type !== LINK_TYPE) return { event };
    const target = this.log.resolveLink(event);
    return target ? { event: target, link: event } : null;
  }

  private write(stream: string, events: readonly ProposedEvent[]): void {
    const outcome = this.log.append(stream, { kind: 'any' }, events);
    if (outcome.kind === 'stream_deleted')
      throw new ProjectionQueryError(`the projection writes to '${stream}', which is deleted`);
  }
}

function requireEmit(emitEnabled: boolean): void {
  // EventStoreDB's own words for a projection created without emitEnabled that emits or links.
  if (!emitEnabled)
    throw new ProjectionQueryError(`'emit' is not allowed by the projection/configuration/mode`);
}

/**
 * What a user projection's `linkTo(stream, event)` links: the event the handler received, which is also the
 * link's cause. Checked, since the handler may pass anything.
 */
function linkedByHandler(event: ProjectionEvent): { target: string; cause: Cause } {
  const given = event as Partial<ProjectionEvent> & { readonly position?: number };
  if (
    typeof given?.streamId !== 'string' ||
    !Number.isInteger(given.sequenceNumber) ||
    typeof given.eventId !== 'string'
  ) {
    throw new ProjectionQueryError('linkTo(): the second argument must be an event the handler received');
  }
  return {
    target: `${given.sequenceNumber}@${given.streamId}`,
    cause: {
      id: given.eventId,
      stream: given.streamId,
      position: typeof given.position === 'number' ? given.position : 0,
    },
  };
}

/** Metadata of what a projection writes, naming its cause as EventStoreDB does (`$causedBy`, `$o`, `$c`/`$p`). */
function causedMetadata(cause: Cause, extra: Record<string, unknown>): Buffer {
  const metadata = {
    ...extra,
    $c: cause.position,
    $p: cause.position,
    $o: cause.stream,
    $causedBy: cause.id,
  };
  return Buffer.from(JSON.stringify(metadata), 'utf8');
}

/** A `$>` link: its data is `revision@stream`. */
function linkEvent(target: string, cause: Cause, extra: Record<string, unknown>): ProposedEvent {
  return {
    id: randomUUID(),
    type: LINK_TYPE,
    contentType: 'application/octet-stream',
    data: Buffer.from(target, 'utf8'),
    metadata: causedMetadata(cause, extra),
  };
}

/** A `$@` stream reference: its data is the stream's name. */
function streamReference(stream: string, cause: Cause): ProposedEvent {
  return {
    id: randomUUID(),
    type: '$@',
    contentType: 'application/octet-stream',
    data: Buffer.from(stream, 'utf8'),
    metadata: causedMetadata(cause, {}),
  };
}

function emittedEvent(
  cause: StoredEvent,
  eventType: string,
  data: unknown,
  extra: Record<string, unknown>,
): ProposedEvent {
  const body = JSON.stringify(data ?? {});
  return {
    id: randomUUID(),
    type: eventType,
    contentType: 'application/json',
    data: Buffer.from(body, 'utf8'),
    metadata: causedMetadata(causeOf(cause), extra),
  };
}

function objectOrEmpty(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? { ...(value as Record<string, unknown>) }
    : {};
}

/** The handler's view of an event: JSON bodies parsed, raw text kept, link metadata when it came by a link. */
function envelope(event: StoredEvent, link?: StoredEvent): ProjectionEvent & { readonly position: number } {
  const isJson = event.contentType === 'application/json';
  const bodyRaw = Buffer.from(event.data).toString('utf8');
  const metadataRaw = Buffer.from(event.metadata).toString('utf8');
  const linkMetadataRaw = link ? Buffer.from(link.metadata).toString('utf8') : '';
  const data = isJson ? parseOrUndefined(bodyRaw) : undefined;
  return {
    isJson,
    data,
    body: data,
    bodyRaw,
    eventType: event.type,
    eventId: event.id,
    streamId: event.stream.name,
    sequenceNumber: event.revision,
    metadata: parseOrUndefined(metadataRaw),
    metadataRaw,
    linkMetadata: parseOrUndefined(linkMetadataRaw),
    linkMetadataRaw,
    position: event.position,
  };
}

function parseOrUndefined(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** State leaves the projection as JSON would carry it (and a handler keeping a reference cannot change it). */
function jsonCopy(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

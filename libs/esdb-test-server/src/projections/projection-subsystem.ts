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

/** What a system projection writes for one event: links, each to a stream. */
type SystemHandler = (event: StoredEvent, log: InMemoryLog) => readonly string[];

/** EventStoreDB's default category rule: the part of the stream name before its first `-`. */
function categoryOf(stream: string): string | null {
  const dash = stream.indexOf('-');
  return dash > 0 ? stream.slice(0, dash) : null;
}

/**
 * The standard projections. Each skips the streams of the system (`$` prefix), links (`$>`) and tombstones, as
 * they read `$all` without links.
 */
const SYSTEM_PROJECTIONS: ReadonlyMap<string, SystemHandler> = new Map<string, SystemHandler>([
  [
    '$by_category',
    (event) => {
      const category = categoryOf(event.stream.name);
      return category === null ? [] : [`$ce-${category}`];
    },
  ],
  ['$by_event_type', (event) => [`$et-${event.type}`]],
  [
    '$stream_by_category',
    (event) => {
      const category = categoryOf(event.stream.name);
      return category === null || event.revision !== 0 ? [] : [`$category-${category}`];
    },
  ],
  ['$streams', (event) => (event.revision === 0 ? ['$streams'] : [])],
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
        if (event.stream.name.startsWith('$') || event.type === LINK_TYPE || event.isTombstone) return;
        const streams = handler(event, this.log);
        for (const stream of streams) this.write(stream, [linkEvent(linkedEvent(event), {})]);
        if (streams.length > 0) projection.eventsProcessed += 1;
      },
    };
    return projection;
  }

  private user(name: string, query: string, emitEnabled: boolean): Projection {
    /** What the handler running now has asked to write; written only if it returns. */
    let effects: Array<{ stream: string; event: ProposedEvent }> = [];
    let current: StoredEvent | undefined;
    const during = (call: string): StoredEvent => {
      if (!current) throw new ProjectionQueryError(`${call}() may only be called from a handler`);
      return current;
    };
    const sink: ProjectionEffects = {
      linkTo: (stream, event, metadata) => {
        during('linkTo');
        requireEmit(emitEnabled);
        effects.push({ stream, event: linkEvent(linkTarget(event), objectOrEmpty(metadata)) });
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

/** An event a link points at. */
interface LinkedEvent {
  readonly stream: string;
  readonly revision: number;
  readonly id: string;
  readonly position: number;
}

function linkedEvent(event: StoredEvent): LinkedEvent {
  return { stream: event.stream.name, revision: event.revision, id: event.id, position: event.position };
}

/** The `revision@stream` a link written for this handler event points at. */
function linkTarget(event: ProjectionEvent): LinkedEvent {
  const target = event as Partial<ProjectionEvent> & { readonly position?: number };
  if (
    typeof target?.streamId !== 'string' ||
    !Number.isInteger(target.sequenceNumber) ||
    typeof target.eventId !== 'string'
  ) {
    throw new ProjectionQueryError('linkTo(): the second argument must be an event the handler received');
  }
  return {
    stream: target.streamId,
    revision: target.sequenceNumber!,
    id: target.eventId,
    position: typeof target.position === 'number' ? target.position : 0,
  };
}

/**
 * A `$>` link: its data is `revision@stream`, its metadata names what caused it, as EventStoreDB writes them
 * (`$causedBy` the linked event's id, `$o` its stream, `$c`/`$p` its position).
 */
function linkEvent(target: LinkedEvent, extra: Record<string, unknown>): ProposedEvent {
  const stream = target.stream;
  const metadata = {
    ...extra,
    $c: target.position,
    $p: target.position,
    $o: stream,
    $causedBy: target.id,
  };
  return {
    id: randomUUID(),
    type: LINK_TYPE,
    contentType: 'application/octet-stream',
    data: Buffer.from(`${target.revision}@${stream}`, 'utf8'),
    metadata: Buffer.from(JSON.stringify(metadata), 'utf8'),
  };
}

function emittedEvent(
  cause: StoredEvent,
  eventType: string,
  data: unknown,
  extra: Record<string, unknown>,
): ProposedEvent {
  const body = JSON.stringify(data ?? {});
  const metadata = { ...extra, $c: cause.position, $p: cause.position, $causedBy: cause.id };
  return {
    id: randomUUID(),
    type: eventType,
    contentType: 'application/json',
    data: Buffer.from(body, 'utf8'),
    metadata: Buffer.from(JSON.stringify(metadata), 'utf8'),
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

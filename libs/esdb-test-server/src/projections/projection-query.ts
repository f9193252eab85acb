/**
 * The JavaScript query language of EventStoreDB's projections, the subset the test server runs: a query is
 * evaluated once in its own `node:vm` context, where `fromAll()`, `fromStream(s)`, `fromStreams(...)` and
 * `fromCategory(c)` choose the source and `.when({ $init, $any, <EventType>: handler })` the handlers; handlers
 * call `linkTo(stream, event[, metadata])` and `emit(stream, type, data[, metadata])`, and `options({...})`
 * sets `$includeLinks`. A context is not a security boundary: this is a test server, fed by its own tests.
 */
import { Script, createContext, type Context } from 'node:vm';

/** What the handlers see of an event, in EventStoreDB's names. */
export interface ProjectionEvent {
  readonly isJson: boolean;
  readonly data: unknown;
  readonly body: unknown;
  readonly bodyRaw: string;
  readonly eventType: string;
  readonly eventId: string;
  readonly streamId: string;
  readonly sequenceNumber: number;
  readonly metadata: unknown;
  readonly metadataRaw: string;
  readonly linkMetadata: unknown;
  readonly linkMetadataRaw: string;
}

export type ProjectionSource =
  | { readonly kind: 'all' }
  | { readonly kind: 'streams'; readonly streams: ReadonlySet<string> }
  | { readonly kind: 'category'; readonly category: string };

/** The side effects a handler may cause; the runtime binds them to the event being processed. */
export interface ProjectionEffects {
  linkTo(stream: string, event: ProjectionEvent, metadata: unknown): void;
  emit(stream: string, eventType: string, data: unknown, metadata: unknown): void;
}

/** A query that evaluated: where its events come from and how each is folded. */
export interface CompiledQuery {
  readonly source: ProjectionSource;
  /** `options({ $includeLinks: true })`: `$>` links in `$all` reach the handlers as they are. */
  readonly includeLinks: boolean;
  /** The state before the first event: `$init()` or `{}`. */
  initialState(): unknown;
  /** Whether a handler (named or `$any`) takes events of this type. */
  handles(eventType: string): boolean;
  /** Runs the event's handler; what it returns (if not undefined) becomes the state. */
  handle(state: unknown, event: ProjectionEvent): unknown;
}

export class ProjectionQueryError extends Error {}

/** How long the query's own top level, or one handler call, may run before the projection faults. */
const RUN_LIMIT_MS = 1_000;
const UNSUPPORTED = ['partitionBy', 'foreachStream', 'transformBy', 'filterBy', 'outputTo', 'outputState'];

/** Handler names that are not event types. */
const RESERVED_HANDLERS = new Set(['$init', '$any', '$deleted', '$created', '$initShared']);

type Handler = (state: unknown, event: ProjectionEvent) => unknown;

/**
 * Evaluates `query` and returns its definition, or throws ProjectionQueryError naming what is wrong (no
 * source, no `when`, a feature the test server does not run, or the script's own error).
 */
export function compileProjectionQuery(query: string, effects: () => ProjectionEffects): CompiledQuery {
  let source: ProjectionSource | null = null;
  let handlers: Record<string, Handler> | null = null;
  let includeLinks = false;

  const chosen = (next: ProjectionSource): object => {
    if (source) throw new ProjectionQueryError('a query chooses its source once');
    source = next;
    const builder: Record<string, unknown> = {
      when: (definition: unknown) => {
        if (typeof definition !== 'object' || definition === null)
          throw new ProjectionQueryError('when() takes an object of handlers');
        const collected: Record<string, Handler> = {};
        for (const [type, handler] of Object.entries(definition)) {
          if (typeof handler !== 'function')
            throw new ProjectionQueryError(`when(): the handler of '${type}' is not a function`);
          collected[type] = handler as Handler;
        }
        handlers = collected;
        return builder;
      },
    };
    for (const name of UNSUPPORTED) {
      builder[name] = () => {
        throw new ProjectionQueryError(`${name}() is not supported by the test server's projections`);
      };
    }
    return builder;
  };

  const sandbox = {
    fromAll: () => chosen({ kind: 'all' }),
    fromStream: (stream: unknown) => chosen({ kind: 'streams', streams: new Set([streamArgument(stream)]) }),
    fromStreams: (...streams: unknown[]) => {
      const names = (streams.length === 1 && Array.isArray(streams[0]) ? streams[0] : streams).map(
        streamArgument,
      );
      if (names.length === 0) throw new ProjectionQueryError('fromStreams() needs at least one stream');
      return chosen({ kind: 'streams', streams: new Set(names) });
    },
    fromCategory: (category: unknown) => chosen({ kind: 'category', category: streamArgument(category) }),
    options: (value: unknown) => {
      if (typeof value === 'object' && value !== null)
        includeLinks = (value as Record<string, unknown>).$includeLinks === true;
    },
    linkTo: (stream: unknown, event: ProjectionEvent, metadata?: unknown) =>
      effects().linkTo(streamArgument(stream), event, metadata),
    emit: (stream: unknown, eventType: unknown, data: unknown, metadata?: unknown) => {
      if (typeof eventType !== 'string' || eventType === '')
        throw new ProjectionQueryError('emit(): the event type must be a non-empty string');
      effects().emit(streamArgument(stream), eventType, data, metadata);
    },
  };
  const context = createContext(sandbox, { name: 'projection', codeGeneration: { strings: false } });
  run(() =>
    new Script(query, { filename: 'projection.js' }).runInContext(context, { timeout: RUN_LIMIT_MS }),
  );

  const finalSource = source as ProjectionSource | null;
  const finalHandlers = handlers as Record<string, Handler> | null;
  if (!finalSource) throw new ProjectionQueryError('the query chooses no source (fromAll, fromStream, ...)');
  if (!finalHandlers) throw new ProjectionQueryError('the query defines no handlers (.when({...}))');
  const init = finalHandlers.$init;
  const any = finalHandlers.$any;
  const invoke = invoker(context);
  const named = (eventType: string): Handler | undefined =>
    !RESERVED_HANDLERS.has(eventType) && Object.hasOwn(finalHandlers, eventType)
      ? finalHandlers[eventType]
      : undefined;
  return {
    source: finalSource,
    includeLinks,
    initialState: () => (init ? (invoke(init, undefined, undefined) ?? {}) : {}),
    handles: (eventType) => Boolean(any) || named(eventType) !== undefined,
    handle: (state, event) => {
      const handler = named(event.eventType) ?? any;
      return handler ? invoke(handler, state, event) : undefined;
    },
  };
}

function streamArgument(value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new ProjectionQueryError(`a stream name must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

/** Calls a handler inside the context, so the run limit applies to it as to the query's top level. */
function invoker(context: Context): (handler: Handler, state: unknown, event: unknown) => unknown {
  const call = new Script('__handler(__state, __event)', { filename: 'projection-handler.js' });
  return (handler, state, event) => {
    context.__handler = handler;
    context.__state = state;
    context.__event = event;
    try {
      return run(() => call.runInContext(context, { timeout: RUN_LIMIT_MS }));
    } finally {
      context.__handler = context.__state = context.__event = undefined;
    }
  };
}

/** Errors thrown inside the context are of its realm; they are rethrown as ours, message kept. */
function run<T>(body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof ProjectionQueryError) throw error;
    const message =
      typeof error === 'object' && error !== null && 'message' in error
        ? `${(error as { name?: string }).name ?? 'Error'}: ${String((error as { message: unknown }).message)}`
        : String(error);
    throw new ProjectionQueryError(message);
  }
}

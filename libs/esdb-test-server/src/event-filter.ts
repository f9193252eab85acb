import { ReadReq } from '@eventstore/db-client/generated/streams_pb';
import type { StoredEvent } from './in-memory-log';

/** A server-side `$all` filter as EventStoreDB applies it: on the stream name or on the event type. */
export interface EventFilter {
  matches(event: StoredEvent): boolean;
  /** Events scanned between two checkpoints of a filtered subscription. */
  readonly checkpointEvery: number;
}

const DEFAULT_SEARCH_WINDOW = 32;

export function filterFromOptions(options: ReadReq.Options): EventFilter | null {
  if (!options.hasFilter()) return null;
  const filter = options.getFilter()!;
  const window = filter.hasMax() && filter.getMax() > 0 ? filter.getMax() : DEFAULT_SEARCH_WINDOW;
  const checkpointEvery = window * Math.max(1, filter.getCheckpointintervalmultiplier());
  if (filter.hasStreamIdentifier()) {
    const test = expressionTest(filter.getStreamIdentifier()!);
    return { checkpointEvery, matches: (event) => test(event.stream.name) };
  }
  if (filter.hasEventType()) {
    const test = expressionTest(filter.getEventType()!);
    return { checkpointEvery, matches: (event) => test(event.type) };
  }
  throw new Error('filter without stream identifier or event type');
}

function expressionTest(expression: ReadReq.Options.FilterOptions.Expression): (value: string) => boolean {
  const regex = expression.getRegex();
  if (regex) {
    const compiled = new RegExp(regex);
    return (value) => compiled.test(value);
  }
  const prefixes = expression.getPrefixList();
  return (value) => prefixes.some((prefix) => value.startsWith(prefix));
}

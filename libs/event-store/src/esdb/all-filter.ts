import { eventTypeFilter, streamNameFilter, type Filter } from '@eventstore/db-client';
import type { AllFilter } from '../event-store.port';

/**
 * What EventStoreDB can filter on by itself: the stream name or the event type, not both at once. A port
 * filter with both is sent as its event-type part and finished here; system events (`$`-prefixed streams or
 * types) are always dropped here as well, whatever the server did.
 */
export type ServerFilter =
  | { readonly on: 'eventType'; readonly regex: string }
  | { readonly on: 'streamName'; readonly prefixes: readonly string[] };

export interface CompiledAllFilter {
  readonly server: ServerFilter;
  /** True when the port filter restricts nothing (only system events are left out). */
  readonly unrestricted: boolean;
  matches(stream: string, type: string): boolean;
  /** A fresh vendor filter for `subscribeToAll` (the client keeps state on it). */
  vendorFilter(): Filter;
}

/** Matches any event type that does not start with `$`: the server-side way to leave system events out. */
const NOT_SYSTEM_TYPE = '^[^$]';

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function isSystemEvent(stream: string, type: string): boolean {
  return stream.startsWith('$') || type.startsWith('$');
}

/** Empty lists restrict nothing, as absent ones; an empty prefix matches every stream. */
export function compileAllFilter(filter: AllFilter | undefined): CompiledAllFilter {
  const rawPrefixes = filter?.streamPrefixes ?? [];
  const rawTypes = filter?.eventTypes ?? [];
  for (const prefix of rawPrefixes)
    if (typeof prefix !== 'string') throw new RangeError('invalid stream prefix');
  for (const type of rawTypes)
    if (typeof type !== 'string') throw new RangeError('invalid event type filter');
  const prefixes = rawPrefixes.includes('') ? [] : [...new Set(rawPrefixes)];
  const types = [...new Set(rawTypes)];
  const typeSet = new Set(types);

  const server: ServerFilter =
    types.length > 0
      ? { on: 'eventType', regex: `^(?:${types.map(escapeRegex).join('|')})$` }
      : prefixes.length > 0
        ? { on: 'streamName', prefixes }
        : { on: 'eventType', regex: NOT_SYSTEM_TYPE };

  return {
    server,
    unrestricted: prefixes.length === 0 && types.length === 0,
    matches(stream, type) {
      if (isSystemEvent(stream, type)) return false;
      if (types.length > 0 && !typeSet.has(type)) return false;
      return prefixes.length === 0 || prefixes.some((prefix) => stream.startsWith(prefix));
    },
    vendorFilter() {
      return server.on === 'eventType'
        ? eventTypeFilter({ regex: server.regex })
        : streamNameFilter({ prefixes: [...server.prefixes] });
    },
  };
}

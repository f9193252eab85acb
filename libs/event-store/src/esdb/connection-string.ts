/**
 * `@eventstore/db-client` 6.x only parses `esdb://` and `esdb+discover://`. KurrentDB (the renamed EventStoreDB,
 * 25.0 on) documents `kurrentdb://` (and the short `kdb://`), which the configuration accepts; the server speaks
 * the same protocol, so such strings are rewritten to the scheme this client understands. Nothing else changes.
 */
const ALIASES = /^(?:kurrentdb|kurrent|kdb)(\+discover)?:\/\//i;

export function toClientConnectionString(connectionString: string): string {
  return connectionString
    .trim()
    .replace(ALIASES, (_match, discover: string | undefined) => `esdb${discover ?? ''}://`);
}

/** The connection string without user credentials, for messages and logs. */
export function redactConnectionString(connectionString: string): string {
  return connectionString.replace(/^([a-z+]+:\/\/)[^@/]*@/i, '$1***@');
}

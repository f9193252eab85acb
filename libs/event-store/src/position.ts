/**
 * A point of the global log. `commit` orders events; `prepare` disambiguates events of one commit on stores
 * that have it (EventStoreDB). Positions are not dense: never compute with them, only compare.
 */
export interface LogPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** The position before the first event. Nothing in the log is at or below it. */
export const START: LogPosition = Object.freeze({ commit: -1n, prepare: -1n });

export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function isAtOrAfter(a: LogPosition, b: LogPosition): boolean {
  return comparePositions(a, b) >= 0;
}

export class MalformedTokenError extends Error {
  constructor(readonly token: string) {
    super(`malformed token: ${token.length > 64 ? `${token.slice(0, 64)}…` : token}`);
    this.name = 'MalformedTokenError';
  }
}

// Tokens are `lt1.` + base36 commit (+ `.` + base36 prepare when it differs), so a token names a position
// on any store and clients can compare nothing but equality. START is `lt1.s`.
const TOKEN_PATTERN = /^lt1\.(s|[0-9a-z]{1,26})(?:\.([0-9a-z]{1,26}))?$/;

function parseBase36(text: string): bigint {
  let value = 0n;
  for (const ch of text) value = value * 36n + BigInt(parseInt(ch, 36));
  return value;
}

export function positionToToken(position: LogPosition): string {
  if (position.commit < 0n) return 'lt1.s';
  // 28 is `s` in base 36, which would read back as START: write it `0s`, which parses to 28.
  const commit = position.commit === 28n ? '0s' : position.commit.toString(36);
  return position.prepare === position.commit ? `lt1.${commit}` : `lt1.${commit}.${position.prepare.toString(36)}`;
}

export function tokenToPosition(token: string): LogPosition {
  const match = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
  if (!match) throw new MalformedTokenError(String(token));
  if (match[1] === 's') {
    if (match[2] !== undefined) throw new MalformedTokenError(token);
    return START;
  }
  const commit = parseBase36(match[1]);
  const prepare = match[2] === undefined ? commit : parseBase36(match[2]);
  if (commit > 0xffffffffffffffffn || prepare > 0xffffffffffffffffn) throw new MalformedTokenError(token);
  return { commit, prepare };
}

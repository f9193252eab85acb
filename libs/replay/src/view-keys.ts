const QUOTE = 34;
const BACKSLASH = '\\';

/** The three fields a replay judges a view by; everything else is read only for exposures. */
export interface ViewKeys {
  viewerId: string;
  deviceId: string;
  occurredAt: string;
}

/**
 * Reads `viewerId`, `deviceId` and `occurredAt` out of a view's data JSON without building the object, or
 * returns false when it cannot be sure, and the caller falls back to `JSON.parse`. It is sure when the text is
 * flat (one `{`, no `[`), each key occurs exactly once as `"key":` right after `{` or `,` (so it is a key, not
 * text inside a string: a quote inside a string is always escaped), and each value is a string with no
 * backslash (so its next quote ends it). That is what `JSON.stringify` writes for a view; anything else —
 * whitespace, escapes, duplicates, nesting, other value types — takes the exact path.
 */
export function readViewKeys(json: string, into: ViewKeys): boolean {
  if (json.charCodeAt(0) !== 123 || json.indexOf('{', 1) >= 0 || json.indexOf('[') >= 0) return false;
  const viewerId = stringValue(json, '"viewerId":');
  if (viewerId === null) return false;
  const deviceId = stringValue(json, '"deviceId":');
  if (deviceId === null) return false;
  const occurredAt = stringValue(json, '"occurredAt":');
  if (occurredAt === null) return false;
  into.viewerId = viewerId;
  into.deviceId = deviceId;
  into.occurredAt = occurredAt;
  return true;
}

function stringValue(json: string, key: string): string | null {
  const at = json.indexOf(key);
  if (at < 1) return null;
  const before = json.charCodeAt(at - 1);
  if (before !== 123 && before !== 44) return null; // { or ,
  if (json.indexOf(key, at + 1) >= 0) return null;
  const start = at + key.length;
  if (json.charCodeAt(start) !== QUOTE) return null;
  const end = json.indexOf('"', start + 1);
  if (end < 0) return null;
  const value = json.slice(start + 1, end);
  return value.includes(BACKSLASH) ? null : value;
}

/** A copy of `text` that does not keep alive the (much larger) string it was sliced from. */
export function detached(text: string): string {
  return ` ${text}`.slice(1);
}

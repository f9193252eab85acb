const QUOTE = 34;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;

/** The fields a replay reads from a view: three to judge it, three more when it is an exposure. */
export interface ViewKeys {
  viewerId: string;
  deviceId: string;
  occurredAt: string;
  mediaId: string;
  mediaType: string;
  action: string;
}

export function emptyViewKeys(): ViewKeys {
  return { viewerId: '', deviceId: '', occurredAt: '', mediaId: '', mediaType: '', action: '' };
}

const MISSING = 0;

/**
 * Reads a view's string fields out of its data JSON without building the object, or returns false when it
 * cannot be sure and the caller must `JSON.parse`. It is sure of text with no backslash at all (so every
 * string ends at its next quote) that is one flat object written without whitespace, as `JSON.stringify`
 * writes a view: it then walks the members one by one, exactly as a parser would, and a repeated key keeps its
 * last value, as `JSON.parse` does. Anything else (escapes, whitespace, nesting, a wanted field that is absent
 * or not a string) declines. The values are slices of `json`: `detached` copies the ones kept.
 */
export function readViewKeys(json: string, into: ViewKeys): boolean {
  if (json.charCodeAt(0) !== OPEN_BRACE || json.indexOf('\\') >= 0) return false;
  let found = MISSING;
  let at = 1;
  if (json.charCodeAt(at) === CLOSE_BRACE) return false;
  for (;;) {
    if (json.charCodeAt(at) !== QUOTE) return false;
    const keyEnd = json.indexOf('"', at + 1);
    if (keyEnd < 0 || json.charCodeAt(keyEnd + 1) !== COLON) return false;
    const valueAt = keyEnd + 2;
    const first = json.charCodeAt(valueAt);
    let next: number;
    let field = -1;
    if (first === QUOTE) {
      const valueEnd = json.indexOf('"', valueAt + 1);
      if (valueEnd < 0) return false;
      field = fieldIndex(json, at + 1, keyEnd);
      if (field >= 0) {
        const value = json.slice(valueAt + 1, valueEnd);
        if (field === 0) into.viewerId = value;
        else if (field === 1) into.deviceId = value;
        else if (field === 2) into.occurredAt = value;
        else if (field === 3) into.mediaId = value;
        else if (field === 4) into.mediaType = value;
        else into.action = value;
        found |= 1 << field;
      }
      next = valueEnd + 1;
    } else {
      if (first === OPEN_BRACE || first === OPEN_BRACKET) return false;
      // A number, true, false or null runs to the next separator; none of them holds one.
      const comma = json.indexOf(',', valueAt);
      const brace = json.indexOf('}', valueAt);
      next = comma >= 0 && comma < brace ? comma : brace;
      if (next < 0) return false;
      // A wanted field that is not a string: let the parser say what it is.
      if (fieldIndex(json, at + 1, keyEnd) >= 0) return false;
    }
    const separator = json.charCodeAt(next);
    if (separator === COMMA) {
      at = next + 1;
      continue;
    }
    if (separator !== CLOSE_BRACE || next !== json.length - 1) return false;
    return found === ALL_FIELDS;
  }
}

const FIELDS = ['viewerId', 'deviceId', 'occurredAt', 'mediaId', 'mediaType', 'action'] as const;
const ALL_FIELDS = (1 << FIELDS.length) - 1;

/** Which wanted field the key `json[start, end)` is, or -1. */
function fieldIndex(json: string, start: number, end: number): number {
  const length = end - start;
  for (let i = 0; i < FIELDS.length; i++) {
    if (FIELDS[i].length === length && json.startsWith(FIELDS[i], start)) return i;
  }
  return -1;
}

/** A copy of `text` that does not keep alive the (much larger) string it was sliced from. */
export function detached(text: string): string {
  return ` ${text}`.slice(1);
}

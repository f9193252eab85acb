/**
 * The path of the first key that appears twice in one object of a JSON text (`views.3.occurredAt`), or null.
 * JSON.parse silently keeps the last of two equal keys, so a body could say two things and be read as one;
 * keys are compared decoded (`"a"` and `"\u0061"` are the same key). The text must already be valid JSON.
 */
export function findDuplicateKey(text: string, parsed?: unknown): string | null {
  // Fast path for the common case: as many keys in the parsed value as key tokens in the text means no object
  // lost one. Only a body that did lose one is walked again to name the key.
  if (parsed !== undefined && countKeyTokens(text) === countKeys(parsed)) return null;
  return locateDuplicateKey(text);
}

/** Strings followed by a colon: the keys as written. */
function countKeyTokens(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x22) continue;
    let end = i + 1;
    while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1;
    let next = end + 1;
    while (next < text.length && isJsonWhitespace(text.charCodeAt(next))) next++;
    if (text.charCodeAt(next) === 0x3a) count++;
    i = end;
  }
  return count;
}

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += countKeys(item);
    return count;
  }
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    count += 1 + countKeys((value as Record<string, unknown>)[key]);
  }
  return count;
}

function locateDuplicateKey(text: string): string | null {
  /** One open container: the keys seen so far (objects) or the index reached (arrays). */
  interface Level {
    readonly keys: Set<string> | null;
    index: number;
    /** The key under which the current value of this object sits. */
    key: string;
    readonly path: string;
  }
  const stack: Level[] = [];
  let expectKey = false;
  const childPath = (): string => {
    const parent = stack[stack.length - 1];
    if (!parent) return '';
    const name = parent.keys ? parent.key : String(parent.index);
    return parent.path ? `${parent.path}.${name}` : name;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1;
      if (expectKey) {
        const level = stack[stack.length - 1];
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (level.keys!.has(key)) return level.path ? `${level.path}.${key}` : key;
        level.keys!.add(key);
        level.key = key;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      stack.push({ keys: new Set(), index: 0, key: '', path: childPath() });
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push({ keys: null, index: 0, key: '', path: childPath() });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      const level = stack[stack.length - 1];
      if (level.keys) expectKey = true;
      else level.index++;
    }
  }
  return null;
}

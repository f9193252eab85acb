/**
 * The path of the first key that appears twice in one object of a JSON text (`views.3.occurredAt`), or null.
 * JSON.parse silently keeps the last of two equal keys, so a body could say two things and be read as one;
 * keys are compared decoded (`"a"` and `"\u0061"` are the same key). The text must already be valid JSON.
 */
export function findDuplicateKey(text: string): string | null {
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
        const key = JSON.parse(text.slice(i, end + 1)) as string;
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

/**
 * The compact text the events table keeps for an event's data (schema version 2), and its exact inverse.
 *
 * Nearly every event of a type is the same flat JSON object: the same keys in the same order, string values,
 * canonical timestamps. So a row keeps only its values, separated by U+001F, behind one character that names
 * its *shape* (the keys, and how each value is coded), kept once in the `event_data_shapes` table. A value is
 * coded as:
 * - `s` the string's JSON-escaped text, between the quotes;
 * - `r` a number, `true`, `false` or `null` as written;
 * - `t` a canonical RFC 3339 UTC timestamp (`2024-02-16T10:00:00.000Z`) as 7 base-94 digits of its milliseconds;
 * - `p<j>` a string that starts with field j's string value: only the rest (a media id after its device id);
 * - `c` a short value without digits (an enum such as `thumbnail`), held in the shape itself, not in the row.
 *
 * JSON.stringify escapes every character below U+0020, so U+001F never occurs inside a value and the fields
 * split exactly. A row is coded only when decoding the code gives back its text byte for byte (checked on
 * every write); anything else (nested values, an empty object, text not written by JSON.stringify, a shape
 * table that is full) is kept verbatim, so the text the store returns — which the Merkle leaf bytes are
 * computed from — never changes.
 */

export const FIELD_SEPARATOR = '\x1f';
const FIELD_SEPARATOR_CODE = 0x1f;
/** A verbatim text that itself begins with a shape character is kept behind this one. */
const VERBATIM_MARK = '\x1e';
const VERBATIM_MARK_CODE = 0x1e;
/** Shape n is named by the character U+0080 + n: two bytes of UTF-8 for each of the first 1,920 shapes. */
const SHAPE_CHAR_BASE = 0x80;
export const MAX_SHAPES = 0x800 - SHAPE_CHAR_BASE;

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;

const TIME_DIGITS = 7;
const TIME_BASE = 94;
const TIME_DIGIT_ZERO = 0x21;
const MAX_CODED_MS = TIME_BASE ** TIME_DIGITS;
const CANONICAL_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/**
 * Values folded into the shape: short, and without digits, so enums (`thumbnail`, `delivered`) and not ids.
 * Should a field of that form take many values after all, the shape table's fold limit stops the folding.
 */
const ENUM_LIKE = /^[A-Za-z_:. -]{1,20}$/;

type FieldKind = 's' | 'r' | 't' | 'c' | `p${number}`;

/** A shape as the `event_data_shapes` table stores it: JSON of `[[keyJson, kind, constant?], ...]`. */
export type ShapeText = string;

type FieldSpec = [key: string, kind: FieldKind] | [key: string, kind: 'c', value: string];

interface CompiledShape {
  /** Text before each coded value, the last entry being the text after the last one. */
  readonly parts: readonly string[];
  /** Per coded value: 0 string, 1 raw, 2 time, 3 prefixed string. */
  readonly kinds: Uint8Array;
  /** For prefixed strings, the coded value whose text is the prefix. */
  readonly refs: Int32Array;
  readonly hasRefs: boolean;
}

function compileShape(text: ShapeText): CompiledShape {
  const fields = JSON.parse(text) as FieldSpec[];
  const parts: string[] = [];
  const kinds: number[] = [];
  const refs: number[] = [];
  /** Coded value index of each field (-1 for constants). */
  const slotOf: number[] = [];
  let pending = '';
  let previousQuoted = false;
  fields.forEach((field, i) => {
    const [key, kind] = field;
    const quoted = kind !== 'r';
    const before = `${i === 0 ? '{' : previousQuoted ? '",' : ','}${key}:${quoted ? '"' : ''}`;
    previousQuoted = quoted;
    if (kind === 'c') {
      pending += before + (field[2] as string);
      slotOf.push(-1);
      return;
    }
    slotOf.push(kinds.length);
    parts.push(pending + before);
    pending = '';
    if (kind === 's') kinds.push(0);
    else if (kind === 'r') kinds.push(1);
    else if (kind === 't') kinds.push(2);
    else kinds.push(3);
    refs.push(kind.startsWith('p') ? slotOf[Number(kind.slice(1))] : -1);
  });
  parts.push(`${pending}${previousQuoted ? '"}' : '}'}`);
  return {
    parts,
    kinds: Uint8Array.from(kinds),
    refs: Int32Array.from(refs),
    hasRefs: refs.some((ref) => ref >= 0),
  };
}

function encodeTime(ms: number): string {
  let code = '';
  for (let i = 0; i < TIME_DIGITS; i++) {
    code = String.fromCharCode(TIME_DIGIT_ZERO + (ms % TIME_BASE)) + code;
    ms = Math.floor(ms / TIME_BASE);
  }
  return code;
}

/** The coded milliseconds of a canonical timestamp, or null when the value is not one. */
function timeCode(value: string): string | null {
  if (value.length !== 24 || !CANONICAL_TIME.test(value)) return null;
  const ms = Date.parse(value);
  if (!(ms >= 0 && ms < MAX_CODED_MS) || new Date(ms).toISOString() !== value) return null;
  return encodeTime(ms);
}

/** A flat object's fields as written: key text (quoted), value text (a string's without its quotes). */
interface Fields {
  readonly keys: string[];
  readonly values: string[];
  readonly quoted: boolean[];
}

/** Splits `JSON.stringify` output of a flat object; null for anything else (nested values, odd spacing, `{}`). */
function splitFlatObject(text: string): Fields | null {
  if (text.charCodeAt(0) !== OPEN_BRACE || text.length < 7) return null;
  const fields: Fields = { keys: [], values: [], quoted: [] };
  let at = 1;
  for (;;) {
    if (text.charCodeAt(at) !== QUOTE) return null;
    const keyEnd = stringEnd(text, at);
    if (keyEnd < 0 || text.charCodeAt(keyEnd + 1) !== COLON) return null;
    fields.keys.push(text.slice(at, keyEnd + 1));
    const valueAt = keyEnd + 2;
    const first = text.charCodeAt(valueAt);
    let next: number;
    if (first === QUOTE) {
      const valueEnd = stringEnd(text, valueAt);
      if (valueEnd < 0) return null;
      fields.values.push(text.slice(valueAt + 1, valueEnd));
      fields.quoted.push(true);
      next = valueEnd + 1;
    } else {
      if (first === OPEN_BRACE || first === OPEN_BRACKET) return null;
      // A number, true, false or null runs to the next separator; none of them holds one.
      next = valueAt;
      while (next < text.length && text.charCodeAt(next) !== COMMA && text.charCodeAt(next) !== CLOSE_BRACE) {
        next++;
      }
      if (next === valueAt || next >= text.length) return null;
      fields.values.push(text.slice(valueAt, next));
      fields.quoted.push(false);
    }
    const separator = text.charCodeAt(next);
    if (separator === CLOSE_BRACE) return next === text.length - 1 ? fields : null;
    if (separator !== COMMA) return null;
    at = next + 1;
  }
}

/** Index of the quote that closes the JSON string opening at `start`; -1 if none. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i;
  }
  return -1;
}

/** A row's data as the writer codes it: the shape it needs (to be interned) and its coded values. */
export interface EncodedData {
  readonly shape: ShapeText;
  readonly values: string;
}

/**
 * The shape and coded values of a data text, or null when it is kept verbatim. The caller interns the shape
 * and calls `codedText`; `DataCodec.encode` does both against its own table of shapes.
 */
export function encodeData(text: string, foldConstants: boolean): EncodedData | null {
  const fields = splitFlatObject(text);
  if (fields === null) return null;
  const spec: FieldSpec[] = [];
  const coded: string[] = [];
  for (let i = 0; i < fields.values.length; i++) {
    const value = fields.values[i];
    if (!fields.quoted[i]) {
      spec.push([fields.keys[i], 'r']);
      coded.push(value);
      continue;
    }
    if (foldConstants && ENUM_LIKE.test(value)) {
      spec.push([fields.keys[i], 'c', value]);
      continue;
    }
    const time = timeCode(value);
    if (time !== null) {
      spec.push([fields.keys[i], 't']);
      coded.push(time);
      continue;
    }
    let prefixOf = -1;
    for (let j = 0; j < i && prefixOf < 0; j++) {
      const earlier = fields.values[j];
      if (
        spec[j][1] === 's' &&
        earlier.length >= 4 &&
        value.length > earlier.length &&
        value.startsWith(earlier)
      ) {
        prefixOf = j;
      }
    }
    if (prefixOf >= 0) {
      spec.push([fields.keys[i], `p${prefixOf}`]);
      coded.push(value.slice(fields.values[prefixOf].length));
    } else {
      spec.push([fields.keys[i], 's']);
      coded.push(value);
    }
  }
  return { shape: JSON.stringify(spec), values: coded.join(FIELD_SEPARATOR) };
}

/**
 * Codes and decodes data against the shapes of one store file. Shape ids are assigned by the writer inside
 * its write transaction; a reader meeting an id it does not know yet asks `loadShapes` for the table again
 * (the row it read was committed with its shape).
 */
export class DataCodec {
  private readonly shapes: Array<CompiledShape | undefined> = [];
  private readonly ids = new Map<ShapeText, number>();
  /** The last timestamp decoded: neighbouring rows often share one (a batch's `recordedAt`). */
  private lastTimeCode = '';
  private lastTime = '';

  constructor(private readonly loadShapes: () => ReadonlyArray<readonly [number, ShapeText]>) {
    this.reload();
  }

  /** Forgets every shape and reads the table again (after a rolled-back write that may have added some). */
  reload(): void {
    this.shapes.length = 0;
    this.ids.clear();
    for (const [id, text] of this.loadShapes()) {
      this.shapes[id] = compileShape(text);
      this.ids.set(text, id);
    }
  }

  idOf(shape: ShapeText): number | undefined {
    return this.ids.get(shape);
  }

  /** The stored text for `text`, given the id its shape was interned under (or null: keep it verbatim). */
  codedText(text: string, encoded: EncodedData | null, shapeId: number | null): string {
    if (encoded !== null && shapeId !== null && shapeId < MAX_SHAPES) {
      if (this.shapes[shapeId] === undefined) {
        this.shapes[shapeId] = compileShape(encoded.shape);
        this.ids.set(encoded.shape, shapeId);
      }
      const coded = String.fromCharCode(SHAPE_CHAR_BASE + shapeId) + encoded.values;
      if (this.decode(coded) === text) return coded;
    }
    const first = text.charCodeAt(0);
    return first === VERBATIM_MARK_CODE || (first >= SHAPE_CHAR_BASE && first < SHAPE_CHAR_BASE + MAX_SHAPES)
      ? VERBATIM_MARK + text
      : text;
  }

  /** The data text a stored value stands for: exactly what was written. */
  decode(stored: string): string {
    const first = stored.charCodeAt(0);
    if (first < SHAPE_CHAR_BASE || first >= SHAPE_CHAR_BASE + MAX_SHAPES) {
      return first === VERBATIM_MARK_CODE ? stored.slice(1) : stored;
    }
    const id = first - SHAPE_CHAR_BASE;
    let shape = this.shapes[id];
    if (shape === undefined) {
      this.reload();
      shape = this.shapes[id];
      if (shape === undefined)
        throw new Error(`stored event data names shape ${id}, which the store does not hold`);
    }
    return this.fill(shape, stored, 1, stored.length);
  }

  /** Decodes the coded value held in `text` between `start` and `end` (a slice of a bulk read). */
  decodeRange(text: string, start: number, end: number): string {
    const first = text.charCodeAt(start);
    if (first < SHAPE_CHAR_BASE || first >= SHAPE_CHAR_BASE + MAX_SHAPES) {
      return text.slice(first === VERBATIM_MARK_CODE ? start + 1 : start, end);
    }
    const id = first - SHAPE_CHAR_BASE;
    let shape = this.shapes[id];
    if (shape === undefined) {
      this.reload();
      shape = this.shapes[id];
      if (shape === undefined)
        throw new Error(`stored event data names shape ${id}, which the store does not hold`);
    }
    return this.fill(shape, text, start + 1, end);
  }

  private fill(shape: CompiledShape, text: string, start: number, end: number): string {
    const { parts, kinds, refs, hasRefs } = shape;
    const last = kinds.length - 1;
    // Values of earlier fields, kept only for fields a later one is prefixed by (rarely more than one).
    let values: string[] | undefined;
    let out = '';
    let at = start;
    for (let i = 0; i <= last; i++) {
      let stop = i === last ? end : text.indexOf(FIELD_SEPARATOR, at);
      if (stop < 0 || stop > end) stop = end;
      let value = text.slice(at, stop);
      const kind = kinds[i];
      if (kind === 2) value = this.time(value);
      else if (kind === 3) value = (values as string[])[refs[i]] + value;
      if (hasRefs) (values ??= [])[i] = value;
      out += parts[i] + value;
      at = stop + 1;
    }
    return out + parts[last + 1];
  }

  private time(code: string): string {
    if (code === this.lastTimeCode) return this.lastTime;
    let ms = 0;
    for (let i = 0; i < code.length; i++) ms = ms * TIME_BASE + (code.charCodeAt(i) - TIME_DIGIT_ZERO);
    this.lastTimeCode = code;
    this.lastTime = new Date(ms).toISOString();
    return this.lastTime;
  }
}

export { FIELD_SEPARATOR_CODE };

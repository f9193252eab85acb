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
/** A verbatim text that itself begins with a shape character is kept behind this one. */
const VERBATIM_MARK = '\x1e';
const VERBATIM_MARK_CODE = 0x1e;
/**
 * Shape n is named by two ASCII characters: a lead control character (U+0001–U+001D but the newline, which
 * separates the bulk read's rows) and a printable one (U+0020–U+007E). ASCII matters: SQLite hands text over
 * as UTF-8, and a page of rows with one character past U+007F is decoded by V8's slow path into a two-byte
 * string (the first layout, with U+0080 + n, made the bulk read several times slower).
 */
const LEADS = 28;
const SECONDS = 95;
const SECOND_BASE = 0x20;
const NEWLINE = 0x0a;
export const MAX_SHAPES = LEADS * SECONDS;

function isLead(code: number): boolean {
  return code >= 0x01 && code <= 0x1d && code !== NEWLINE;
}

function shapeChars(id: number): string {
  const lead = Math.floor(id / SECONDS) + 1;
  return String.fromCharCode(lead >= NEWLINE ? lead + 1 : lead, SECOND_BASE + (id % SECONDS));
}

/** The shape id named at `start`, or -1 when the text there is not coded. */
function shapeIdAt(text: string, start: number): number {
  const lead = text.charCodeAt(start);
  if (!isLead(lead)) return -1;
  return (lead > NEWLINE ? lead - 2 : lead - 1) * SECONDS + (text.charCodeAt(start + 1) - SECOND_BASE);
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;

const LATIN1_MAX = 0xff;
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
  /** `parts` as character codes, for `PageDecoder`; null when one holds a character past U+00FF. */
  readonly partCodes: readonly Uint16Array[] | null;
  /** Characters in all of `parts`. */
  readonly partsLength: number;
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
  const partCodes = parts.map((part) => Uint16Array.from(part, (ch) => ch.charCodeAt(0)));
  return {
    parts,
    partCodes: partCodes.some((codes) => codes.some((code) => code > LATIN1_MAX)) ? null : partCodes,
    partsLength: parts.reduce((sum, part) => sum + part.length, 0),
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
  // A value that only looks canonical (a 30 February) codes to another instant; the check of the whole row's
  // decoding (`codedText`) then keeps the row verbatim, so no `toISOString` is needed here.
  const ms = Date.UTC(
    digits(value, 0, 4),
    digits(value, 5, 7) - 1,
    digits(value, 8, 10),
    digits(value, 11, 13),
    digits(value, 14, 16),
    digits(value, 17, 19),
    digits(value, 20, 23),
  );
  if (!(ms >= 0 && ms < MAX_CODED_MS)) return null;
  return encodeTime(ms);
}

function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (text.charCodeAt(i) - 48);
  return n;
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
  private readonly times = new TimeFormatter();

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
      const coded = shapeChars(shapeId) + encoded.values;
      if (this.decode(coded) === text) return coded;
    }
    const first = text.charCodeAt(0);
    return first === VERBATIM_MARK_CODE || isLead(first) ? VERBATIM_MARK + text : text;
  }

  /** The data text a stored value stands for: exactly what was written. */
  decode(stored: string): string {
    return this.decodeRange(stored, 0, stored.length);
  }

  /** Decodes the coded value held in `text` between `start` and `end` (a slice of a bulk read). */
  decodeRange(text: string, start: number, end: number): string {
    const id = shapeIdAt(text, start);
    if (id < 0) {
      const verbatim = text.charCodeAt(start) === VERBATIM_MARK_CODE ? start + 1 : start;
      return verbatim === 0 && end === text.length ? text : text.slice(verbatim, end);
    }
    let shape = this.shapes[id];
    if (shape === undefined) {
      this.reload();
      shape = this.shapes[id];
      if (shape === undefined)
        throw new Error(`stored event data names shape ${id}, which the store does not hold`);
    }
    return this.fill(shape, text, start + 2, end);
  }

  /** The compiled shape named at `start`, or null when the text there is not coded. */
  shapeAt(text: string, start: number): CompiledShape | null {
    const id = shapeIdAt(text, start);
    if (id < 0) return null;
    let shape = this.shapes[id];
    if (shape === undefined) {
      this.reload();
      shape = this.shapes[id];
      if (shape === undefined)
        throw new Error(`stored event data names shape ${id}, which the store does not hold`);
    }
    return shape;
  }

  private fill(shape: CompiledShape, text: string, start: number, end: number): string {
    const { parts, kinds, refs, hasRefs } = shape;
    const last = kinds.length - 1;
    // Values of earlier fields, kept only when a later one is prefixed by one (rarely more than one).
    let values: string[] | undefined;
    let out = parts[0];
    let at = start;
    for (let i = 0; i <= last; i++) {
      let stop = i === last ? end : text.indexOf(FIELD_SEPARATOR, at);
      if (stop < 0 || stop > end) stop = end;
      let value = text.slice(at, stop);
      const kind = kinds[i];
      if (kind === 2) value = this.times.format(value, i);
      else if (kind === 3) value = (values as string[])[refs[i]] + value;
      if (hasRefs) (values ??= [])[i] = value;
      out += value + parts[i + 1];
      at = stop + 1;
    }
    // Flattened while its pieces are fresh: every reader scans or parses the text, and doing it later, from
    // a string of a dozen pieces, measured about twice as slow in JSON.parse.
    out.charCodeAt(0);
    return out;
  }
}

const MS_PER_DAY = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));

/**
 * Turns coded timestamps back into their canonical text. `Date.prototype.toISOString` cost about as much as the
 * rest of a row's decoding, so the date part is computed once per day and the time of day from tables; and
 * each field remembers its last value, since neighbouring rows often share one (a batch's `recordedAt`).
 */
class TimeFormatter {
  private readonly lastCodes: string[] = [];
  private readonly lastTexts: string[] = [];
  private day = Number.NaN;
  private dayPrefix = '';

  format(code: string, field: number): string {
    if (this.lastCodes[field] === code) return this.lastTexts[field];
    let ms = 0;
    for (let i = 0; i < code.length; i++) ms = ms * TIME_BASE + (code.charCodeAt(i) - TIME_DIGIT_ZERO);
    const day = Math.floor(ms / MS_PER_DAY);
    if (day !== this.day) {
      this.day = day;
      this.dayPrefix = new Date(day * MS_PER_DAY).toISOString().slice(0, 11);
    }
    let rest = ms - day * MS_PER_DAY;
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    const seconds = Math.floor(rest / 1000);
    const millis = rest - seconds * 1000;
    const text = `${this.dayPrefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[millis]}Z`;
    this.lastCodes[field] = code;
    this.lastTexts[field] = text;
    return text;
  }
}
/**
 * Decodes a page of rows at once: every row's text is written as character codes into one buffer, the buffer
 * becomes ONE string, and each row gets a slice of it. That is what the version-1 bulk read handed out (slices
 * of the page SQLite returned), and it keeps a row's decoding to one allocation: building each row from a dozen
 * concatenated pieces spent half of the read in the garbage collector. A row holding a character past U+00FF
 * (the buffer holds Latin-1) is decoded on its own instead.
 */
export class PageDecoder {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private written = 0;
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** Rows decoded on their own, by row index. */
  private readonly alone = new Map<number, string>();
  /** Where each value of the row being written starts and ends in the buffer (for prefixed fields). */
  private valueStarts = new Int32Array(64);
  private valueEnds = new Int32Array(64);
  private readonly days: number[] = [];
  private readonly dayPrefixes: Uint8Array[] = [];

  constructor(private readonly codec: DataCodec) {}

  /** Adds the coded value held in `text` between `start` and `end` as the page's next row. */
  add(text: string, start: number, end: number): void {
    const row = this.starts.length;
    const rowStart = this.written;
    const shape = this.codec.shapeAt(text, start);
    let ok: boolean;
    if (shape === null) {
      const from = text.charCodeAt(start) === VERBATIM_MARK_CODE ? start + 1 : start;
      this.reserve(end - from);
      ok = this.copy(text, from, end);
    } else {
      ok = shape.partCodes !== null && this.fill(shape, shape.partCodes, text, start + 2, end);
    }
    if (!ok) {
      this.written = rowStart;
      this.alone.set(row, this.codec.decodeRange(text, start, end));
    }
    this.starts.push(rowStart);
    this.ends.push(this.written);
  }

  /** Forgets a page left unfinished (a read that failed half way). */
  discard(): void {
    this.written = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    this.alone.clear();
  }

  /** Hands out the page's rows, in the order they were added, and starts a new page. */
  finish(into: string[]): void {
    const page = this.buffer.toString('latin1', 0, this.written);
    for (let row = 0; row < this.starts.length; row++) {
      into.push(this.alone.get(row) ?? page.slice(this.starts[row], this.ends[row]));
    }
    this.written = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    this.alone.clear();
  }

  private reserve(more: number): void {
    if (this.written + more <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.written + more));
    this.buffer.copy(grown, 0, 0, this.written);
    this.buffer = grown;
  }

  /** Copies characters; false at the first one past U+00FF. */
  private copy(text: string, from: number, to: number): boolean {
    const buffer = this.buffer;
    let at = this.written;
    for (let i = from; i < to; i++) {
      const code = text.charCodeAt(i);
      if (code > LATIN1_MAX) return false;
      buffer[at++] = code;
    }
    this.written = at;
    return true;
  }

  private put(codes: Uint16Array): void {
    const buffer = this.buffer;
    let at = this.written;
    for (let i = 0; i < codes.length; i++) buffer[at++] = codes[i];
    this.written = at;
  }

  private fill(
    shape: CompiledShape,
    parts: readonly Uint16Array[],
    text: string,
    start: number,
    end: number,
  ): boolean {
    const { kinds, refs } = shape;
    const last = kinds.length - 1;
    // Each value at most doubles (a prefix repeated) or grows from 7 to 24 characters (a timestamp).
    this.reserve(shape.partsLength + 4 * (end - start) + 32);
    if (this.valueStarts.length <= last) {
      this.valueStarts = new Int32Array(2 * (last + 1));
      this.valueEnds = new Int32Array(2 * (last + 1));
    }
    this.put(parts[0]);
    let at = start;
    for (let i = 0; i <= last; i++) {
      let stop = i === last ? end : text.indexOf(FIELD_SEPARATOR, at);
      if (stop < 0 || stop > end) stop = end;
      const kind = kinds[i];
      this.valueStarts[i] = this.written;
      if (kind === 2) {
        this.time(text, at, stop, i);
      } else {
        if (kind === 3) {
          const ref = refs[i];
          this.reserve(this.valueEnds[ref] - this.valueStarts[ref] + 4 * (end - at) + shape.partsLength);
          this.buffer.copyWithin(this.written, this.valueStarts[ref], this.valueEnds[ref]);
          this.written += this.valueEnds[ref] - this.valueStarts[ref];
        }
        if (!this.copy(text, at, stop)) return false;
      }
      this.valueEnds[i] = this.written;
      this.put(parts[i + 1]);
      at = stop + 1;
    }
    return true;
  }

  /**
   * Writes the canonical text of the coded timestamp in `text` between `from` and `to`, for value `field`. Each
   * field keeps its own date part: a view's `occurredAt` and `recordedAt` often lie on different days.
   */
  private time(text: string, from: number, to: number, field: number): void {
    let ms = 0;
    for (let i = from; i < to; i++) ms = ms * TIME_BASE + (text.charCodeAt(i) - TIME_DIGIT_ZERO);
    const day = Math.floor(ms / MS_PER_DAY);
    let prefix = this.dayPrefixes[field];
    if (this.days[field] !== day || prefix === undefined) {
      this.days[field] = day;
      prefix = Uint8Array.from(new Date(day * MS_PER_DAY).toISOString().slice(0, 11), (ch) =>
        ch.charCodeAt(0),
      );
      this.dayPrefixes[field] = prefix;
    }
    const buffer = this.buffer;
    let at = this.written;
    for (let i = 0; i < 11; i++) buffer[at++] = prefix[i];
    let rest = ms - day * MS_PER_DAY;
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    const seconds = Math.floor(rest / 1000);
    const millis = rest - seconds * 1000;
    buffer[at++] = ZERO + Math.floor(hours / 10);
    buffer[at++] = ZERO + (hours % 10);
    buffer[at++] = COLON;
    buffer[at++] = ZERO + Math.floor(minutes / 10);
    buffer[at++] = ZERO + (minutes % 10);
    buffer[at++] = COLON;
    buffer[at++] = ZERO + Math.floor(seconds / 10);
    buffer[at++] = ZERO + (seconds % 10);
    buffer[at++] = DOT;
    buffer[at++] = ZERO + Math.floor(millis / 100);
    buffer[at++] = ZERO + (Math.floor(millis / 10) % 10);
    buffer[at++] = ZERO + (millis % 10);
    buffer[at++] = LETTER_Z;
    this.written = at;
  }
}

const ZERO = 48;
const DOT = 46;
const LETTER_Z = 90;

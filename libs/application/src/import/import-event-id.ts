/** Namespace of import event ids (a fixed random UUID; RFC 4122 §4.3): ids of different origins never collide. */
const IMPORT_NAMESPACE = Buffer.from('6f1c2a8e4b7d4e0f9a3c5d2b1e8f7a60', 'hex');

/**
 * The event id of line `line` of import `importId`: a name-based UUID (version 5, SHA-1) of
 * `importId:line` in the import namespace. The same file imported again yields the same ids, which the
 * store's idempotent append and the device-stream check turn into no-ops. (One id; an import uses
 * `ImportEventIds`.)
 */
export function importEventId(importId: string, line: number): string {
  return new ImportEventIds(importId).of(line);
}

/**
 * `importEventId` for every line of one import, the same ids at a fraction of the cost: an import hashes a
 * million names that differ only in their last digits, so the SHA-1 state after the common prefix (namespace,
 * import id, colon) is computed once, and each line hashes only its last block or two, in place, without a
 * hash object or a buffer per line (a fresh `createHash` per line was a tenth of an import).
 */
export class ImportEventIds {
  private readonly prefixState: Int32Array;
  /** The bytes of the prefix past its last whole 64-byte block. */
  private readonly tail: Uint8Array;
  private readonly prefixLength: number;
  private readonly block = new Uint8Array(128);
  private readonly words = new Int32Array(80);
  private readonly state = new Int32Array(5);
  /** The id's 36 characters, written in place (the dashes never move). */
  private readonly text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');

  constructor(importId: string) {
    const prefix = Buffer.concat([IMPORT_NAMESPACE, Buffer.from(`${importId}:`, 'utf8')]);
    this.prefixLength = prefix.length;
    const whole = prefix.length - (prefix.length % 64);
    this.prefixState = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0);
    for (let offset = 0; offset < whole; offset += 64) compress(this.prefixState, prefix, offset, this.words);
    this.tail = Uint8Array.from(prefix.subarray(whole));
  }

  of(line: number): string {
    if (!Number.isSafeInteger(line) || line < 0) throw new RangeError(`not a line number: ${line}`);
    const block = this.block;
    block.fill(0);
    block.set(this.tail);
    let length = this.tail.length;
    const digits = String(line);
    for (let i = 0; i < digits.length; i++) block[length++] = digits.charCodeAt(i);
    block[length] = 0x80;
    const blocks = length + 9 <= 64 ? 1 : 2;
    // The message length in bits, big-endian, in the last 8 bytes (a safe integer's bits fit in 53 + 3).
    const bits = (this.prefixLength + digits.length) * 8;
    const end = blocks * 64;
    block[end - 1] = bits & 0xff;
    block[end - 2] = (bits >>> 8) & 0xff;
    block[end - 3] = (bits >>> 16) & 0xff;
    block[end - 4] = (bits >>> 24) & 0xff;
    block[end - 5] = Math.floor(bits / 2 ** 32) & 0xff;
    const state = this.state;
    state.set(this.prefixState);
    compress(state, block, 0, this.words);
    if (blocks === 2) compress(state, block, 64, this.words);
    // The first 16 bytes of the digest, with the version (5) and variant bits of a name-based UUID.
    const w1 = state[1];
    const w2 = state[2];
    const text = this.text;
    writeHex(text, 0, state[0]);
    writeHex(text, 9, (w1 >>> 16) & 0xffff, 2);
    writeHex(text, 14, (w1 & 0x0fff) | 0x5000, 2);
    writeHex(text, 19, ((w2 >>> 16) & 0x3fff) | 0x8000, 2);
    writeHex(text, 24, w2 & 0xffff, 2);
    writeHex(text, 28, state[3]);
    return text.toString('latin1', 0, 36);
  }
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** The low `bytes` bytes of `word` as lowercase hex at `at`, most significant first. */
function writeHex(into: Buffer, at: number, word: number, bytes = 4): void {
  for (let i = bytes * 2 - 1; i >= 0; i--) {
    into[at + i] = HEX_DIGITS[word & 0x0f];
    word >>>= 4;
  }
}

/** One SHA-1 block (FIPS 180-4 §6.1.2) of `bytes` at `offset`, folded into `state`. */
function compress(state: Int32Array, bytes: Uint8Array, offset: number, w: Int32Array): void {
  for (let i = 0; i < 16; i++) {
    const at = offset + i * 4;
    w[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  }
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  for (let i = 0; i < 80; i++) {
    let f: number;
    let k: number;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc | 0;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6 | 0;
    }
    const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
}

/** The few protobuf encoding steps the hand-written encoders of the hot responses need. */

const LENGTH_DELIMITED = 2;
const VARINT = 0;

export function tag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

export function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length += 1;
  }
  return length;
}

/** Size of a length-delimited field holding `length` bytes (tags here all fit one byte). */
export function delimited(length: number): number {
  return 1 + varintLength(length) + length;
}

export class Writer {
  offset = 0;
  constructor(readonly buffer: Buffer) {}

  varint(value: number): void {
    while (value >= 128) {
      this.buffer[this.offset++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buffer[this.offset++] = value;
  }

  header(field: number, length: number): void {
    this.buffer[this.offset++] = tag(field, LENGTH_DELIMITED);
    this.varint(length);
  }

  bytes(field: number, bytes: Uint8Array): void {
    this.header(field, bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  string(field: number, text: string, length: number): void {
    this.header(field, length);
    this.offset += this.buffer.write(text, this.offset, length, 'utf8');
  }

  number(field: number, value: number): void {
    this.buffer[this.offset++] = tag(field, VARINT);
    this.varint(value);
  }
}

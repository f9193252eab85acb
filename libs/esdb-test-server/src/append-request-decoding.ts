/**
 * Decodes the append requests (`AppendReq`, `BatchAppendReq`) straight from protobuf bytes. The generated
 * google-protobuf classes build several objects per proposed event (the message, its id, a metadata map and
 * its entries) and copy the bodies; profiled on a 40,000-event batch they were most of the server's CPU and
 * half of it went to collecting that garbage. Here a batch's proposed events are only located when the
 * request arrives and decoded one by one as the handler asks, into views of the received bytes, so a batch
 * refused for its size is not decoded past the event that crossed the limit. The small `Options` messages
 * still go through the generated classes, which the handlers read.
 *
 * Field numbers (streams.proto, shared.proto): AppendReq.options = 1, proposed_message = 2;
 * BatchAppendReq.correlation_id = 1, options = 2, proposed_messages = 3, is_final = 4;
 * ProposedMessage.id = 1, metadata = 2 (map<string, string>: key = 1, value = 2), custom_metadata = 3,
 * data = 4; UUID.structured = 1 (most = 1, least = 2, int64), string = 2.
 */
import { AppendReq, BatchAppendReq } from '@eventstore/db-client/generated/streams_pb';
import type { ProposedEvent } from './in-memory-log';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** A request the client could not have meant: answered INVALID_ARGUMENT, with the exception EventStoreDB names. */
export class InvalidRequest extends Error {
  constructor(
    message: string,
    readonly exception?: string,
  ) {
    super(message);
  }
}

class Reader {
  private position: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.position = start;
  }

  get done(): boolean {
    return this.position >= this.end;
  }

  /** A varint up to 2^53; larger ones (never a length or a field tag) are read by `varintBig`. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.position >= this.end) throw new Error('truncated varint');
      const byte = this.bytes[this.position++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error('varint too long');
    }
  }

  varintBig(): bigint {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      if (this.position >= this.end) throw new Error('truncated varint');
      const byte = this.bytes[this.position++];
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, value);
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  }

  /** The bounds of the length-delimited field that follows its tag. */
  delimited(): { start: number; end: number } {
    const length = this.varint();
    const start = this.position;
    const end = start + length;
    if (end > this.end) throw new Error('truncated field');
    this.position = end;
    return { start, end };
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case FIXED64:
        this.position += 8;
        return;
      case LENGTH_DELIMITED:
        this.delimited();
        return;
      case FIXED32:
        this.position += 4;
        return;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
  }
}

const utf8 = (bytes: Uint8Array, { start, end }: { start: number; end: number }): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');

/** A UUID message as the canonical text form, whichever of its two forms the client sent. */
function uuidText(bytes: Uint8Array, start: number, end: number): { text: string; structured: boolean } {
  const reader = new Reader(bytes, start, end);
  let text = '';
  let structured = false;
  while (!reader.done) {
    const key = reader.varint();
    if (key === ((2 << 3) | LENGTH_DELIMITED)) {
      text = utf8(bytes, reader.delimited());
      structured = false;
    } else if (key === ((1 << 3) | LENGTH_DELIMITED)) {
      const bounds = reader.delimited();
      const inner = new Reader(bytes, bounds.start, bounds.end);
      let most = 0n;
      let least = 0n;
      while (!inner.done) {
        const innerKey = inner.varint();
        if (innerKey === ((1 << 3) | VARINT)) most = inner.varintBig();
        else if (innerKey === ((2 << 3) | VARINT)) least = inner.varintBig();
        else inner.skip(innerKey & 7);
      }
      const hex = most.toString(16).padStart(16, '0') + least.toString(16).padStart(16, '0');
      text = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      structured = true;
    } else {
      reader.skip(key & 7);
    }
  }
  if (text === '') throw new InvalidRequest('missing UUID');
  return { text, structured };
}

const viewOf = (bytes: Uint8Array, { start, end }: { start: number; end: number }): Uint8Array =>
  bytes.subarray(start, end);

/** One `ProposedMessage`, its bodies viewed in place (the log copies what it keeps). */
export function decodeProposedMessage(bytes: Uint8Array, start = 0, end = bytes.length): ProposedEvent {
  const reader = new Reader(bytes, start, end);
  let id = '';
  let type: string | undefined;
  let contentType: string | undefined;
  let data: Uint8Array = EMPTY;
  let metadata: Uint8Array = EMPTY;
  while (!reader.done) {
    const key = reader.varint();
    switch (key) {
      case (1 << 3) | LENGTH_DELIMITED: {
        const bounds = reader.delimited();
        id = uuidText(bytes, bounds.start, bounds.end).text;
        break;
      }
      case (2 << 3) | LENGTH_DELIMITED: {
        const bounds = reader.delimited();
        const entry = new Reader(bytes, bounds.start, bounds.end);
        let name = '';
        let value = '';
        while (!entry.done) {
          const entryKey = entry.varint();
          if (entryKey === ((1 << 3) | LENGTH_DELIMITED)) name = utf8(bytes, entry.delimited());
          else if (entryKey === ((2 << 3) | LENGTH_DELIMITED)) value = utf8(bytes, entry.delimited());
          else entry.skip(entryKey & 7);
        }
        if (name === 'type') type = value;
        else if (name === 'content-type') contentType = value;
        break;
      }
      case (3 << 3) | LENGTH_DELIMITED:
        metadata = viewOf(bytes, reader.delimited());
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        data = viewOf(bytes, reader.delimited());
        break;
      default:
        reader.skip(key & 7);
    }
  }
  if (!type || !contentType) {
    throw new InvalidRequest(
      'proposed event needs type and content-type',
      'missing-required-metadata-property',
    );
  }
  if (id === '') throw new InvalidRequest('missing UUID');
  return { id, type, contentType, data, metadata };
}

const EMPTY = new Uint8Array(0);

/** An `AppendReq`: either the options or one proposed event (decoded when the handler takes it). */
export interface DecodedAppendRequest {
  readonly options?: AppendReq.Options;
  readonly proposed?: () => ProposedEvent;
}

export function decodeAppendRequest(bytes: Buffer): DecodedAppendRequest {
  const reader = new Reader(bytes);
  let options: AppendReq.Options | undefined;
  let proposed: (() => ProposedEvent) | undefined;
  while (!reader.done) {
    const key = reader.varint();
    if (key === ((1 << 3) | LENGTH_DELIMITED)) {
      options = AppendReq.Options.deserializeBinary(viewOf(bytes, reader.delimited()));
    } else if (key === ((2 << 3) | LENGTH_DELIMITED)) {
      const { start, end } = reader.delimited();
      proposed = () => decodeProposedMessage(bytes, start, end);
    } else {
      reader.skip(key & 7);
    }
  }
  return { options, proposed };
}

/** A `BatchAppendReq`, its proposed events located but not yet decoded. */
export interface DecodedBatchAppendRequest {
  readonly correlationId: string;
  /** The form the client sent the correlation id in; the response echoes it the same way. */
  readonly correlationStructured: boolean;
  readonly options?: BatchAppendReq.Options;
  readonly isFinal: boolean;
  readonly proposedCount: number;
  /** Decodes the proposed events in order; a consumer that stops early leaves the rest undecoded. */
  proposedMessages(): Generator<ProposedEvent>;
}

export function decodeBatchAppendRequest(bytes: Buffer): DecodedBatchAppendRequest {
  const reader = new Reader(bytes);
  let correlation: { text: string; structured: boolean } | undefined;
  let options: BatchAppendReq.Options | undefined;
  let isFinal = false;
  const proposed: number[] = [];
  while (!reader.done) {
    const key = reader.varint();
    switch (key) {
      case (1 << 3) | LENGTH_DELIMITED: {
        const bounds = reader.delimited();
        correlation = uuidText(bytes, bounds.start, bounds.end);
        break;
      }
      case (2 << 3) | LENGTH_DELIMITED:
        options = BatchAppendReq.Options.deserializeBinary(viewOf(bytes, reader.delimited()));
        break;
      case (3 << 3) | LENGTH_DELIMITED: {
        const bounds = reader.delimited();
        proposed.push(bounds.start, bounds.end);
        break;
      }
      case (4 << 3) | VARINT:
        isFinal = reader.varint() !== 0;
        break;
      default:
        reader.skip(key & 7);
    }
  }
  if (!correlation) throw new InvalidRequest('batch append request without a correlation id');
  const { text, structured } = correlation;
  return {
    correlationId: text,
    correlationStructured: structured,
    options,
    isFinal,
    proposedCount: proposed.length / 2,
    *proposedMessages() {
      for (let i = 0; i < proposed.length; i += 2)
        yield decodeProposedMessage(bytes, proposed[i], proposed[i + 1]);
    },
  };
}

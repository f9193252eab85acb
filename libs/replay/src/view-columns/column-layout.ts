import { MEDIA_TYPES, VIEW_ACTIONS, type MediaType, type ViewAction } from '@ledger/domain';

/**
 * The on-disk layout of the replay's views projection: fixed-size little-endian records read straight into
 * typed arrays, one file per kind, plus the interned ids and the view text an exposure needs.
 *
 * ownership.bin, 32 bytes a change, in log order:
 *   f64 at | f64 expiresAt (Infinity: none) | u32 device | u32 user (the owner of a registration, the new owner
 *   of a transfer) | u32 previousOwner | u8 kind (0 registered, else PackedChangeKind) | u8 keepViewers | 2 pad
 * views.bin, 24 bytes a view, in log order:
 *   f64 at (NaN: unreadable time) | u32 device | u32 viewer | u16 eventId bytes | u16 mediaId bytes |
 *   u8 mediaType | u8 action | 2 pad
 * view-text.bin: each view's eventId then mediaId, UTF-8, back to back in the order of views.bin.
 * ids.jsonl: one JSON string a line; an id's key is its line number.
 */
export const OWNERSHIP_RECORD_BYTES = 32;
export const VIEW_RECORD_BYTES = 24;

/** A key slot that names no id (u32). */
export const NO_KEY = 0xffff_ffff;
/** The ownership kind of a registration (the other kinds are `PackedChangeKind`). */
export const REGISTERED_KIND = 0;
/** Longest eventId or mediaId a view record can point at (u16 byte count). */
export const MAX_TEXT_BYTES = 0xffff;

export const MEDIA_TYPE_CODES: ReadonlyMap<string, number> = new Map(MEDIA_TYPES.map((t, i) => [t, i]));
export const ACTION_CODES: ReadonlyMap<string, number> = new Map(VIEW_ACTIONS.map((a, i) => [a, i]));

export function mediaTypeOf(code: number): MediaType {
  return MEDIA_TYPES[code];
}

export function actionOf(code: number): ViewAction {
  return VIEW_ACTIONS[code];
}

/** Typed views over one buffer of whole records (the buffer must start 8-aligned, as `allocUnsafeSlow` does). */
export interface RecordArrays {
  readonly bytes: Buffer;
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly u16: Uint16Array;
  readonly u8: Uint8Array;
}

export function recordArrays(bytes: Buffer): RecordArrays {
  const { buffer, byteOffset, byteLength } = bytes;
  if (byteOffset % 8 !== 0) throw new Error('record buffer must be 8-byte aligned');
  const length = byteLength - (byteLength % 8);
  return {
    bytes,
    f64: new Float64Array(buffer, byteOffset, length / 8),
    u32: new Uint32Array(buffer, byteOffset, length / 4),
    u16: new Uint16Array(buffer, byteOffset, length / 2),
    u8: new Uint8Array(buffer, byteOffset, byteLength),
  };
}

export function allocRecords(recordBytes: number, count: number): RecordArrays {
  // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool, so it starts 8-aligned.
  const bytes = Buffer.allocUnsafeSlow(recordBytes * count);
  bytes.fill(0);
  return recordArrays(bytes);
}

import { createHash } from 'node:crypto';

/** A value that has a canonical form: what records and manifests are made of. */
export type CanonicalValue =
  | string
  | number
  | boolean
  | null
  | readonly CanonicalValue[]
  | { readonly [key: string]: CanonicalValue | undefined };

export class NotCanonicalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotCanonicalError';
  }
}

/**
 * The canonical JSON text of a value: the RFC 8785 (JCS) serialization restricted to integers. Object keys are
 * sorted by UTF-16 code units (what `Array.prototype.sort` does), there is no whitespace, strings are escaped
 * exactly as `JSON.stringify` escapes them, and `undefined` members are omitted. Fractions, NaN, infinities
 * and unsafe integers are refused rather than rounded, because two exporters must never disagree on a digit.
 */
export function canonicalJson(value: CanonicalValue): string {
  return write(value);
}

function write(value: CanonicalValue | undefined): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new NotCanonicalError(`not a safe integer: ${value}`);
      return String(value);
    case 'object':
      break;
    default:
      throw new NotCanonicalError(`no canonical form for a ${typeof value}`);
  }
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      const item = (value as readonly CanonicalValue[])[i];
      if (item === undefined) throw new NotCanonicalError('undefined inside an array');
      text += (i > 0 ? ',' : '') + write(item);
    }
    return `${text}]`;
  }
  const object = value as { readonly [key: string]: CanonicalValue | undefined };
  const keys = Object.keys(object).sort();
  let text = '{';
  let first = true;
  for (const key of keys) {
    const item = object[key];
    if (item === undefined) continue;
    text += (first ? '' : ',') + JSON.stringify(key) + ':' + write(item);
    first = false;
  }
  return `${text}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `prevHash` of record 1, and `lastHash` of an export with no records. */
export const GENESIS_HASH = '0'.repeat(64);

export const HASH_PATTERN = /^[0-9a-f]{64}$/;

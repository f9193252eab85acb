import { isUtf8 } from 'node:buffer';
import type { FastifyRequest } from 'fastify';
import { findDuplicateKey } from '@ledger/domain';

/** The deepest body of the contract nests 3 levels; hostile nesting must be a 400, not a stack overflow. */
export const MAX_BODY_DEPTH = 32;

/** Fastify's default JSON parser, as `getDefaultJsonParser` hands it out. */
export type JsonTextParser = (
  request: FastifyRequest,
  text: string,
  done: (error: Error | null, parsed?: unknown) => void,
) => void;

export type BodyParsed = (error: Error | null, body: unknown) => void;

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 });
}

/** One pass over JSON text: does any array or object nest deeper than `limit`? Strings are skipped. */
function nestsDeeperThan(body: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Field names no body of the contract has, which the validation layer cannot see: class-transformer drops keys
 * that name `Object.prototype` members (and lets `prototype` through), so they would be silently ignored
 * instead of refused as unknown fields.
 */
const RESERVED_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** Path of the first reserved key in a parsed body (nesting is already bounded), or null. */
function reservedKeyPath(value: unknown, prefix: string): string | null {
  if (value === null || typeof value !== 'object') return null;
  // Paths are built only for a hit: a 1000-view body is walked without allocating a string per value.
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (item === null || typeof item !== 'object') continue;
      const found = reservedKeyPath(item, '');
      if (found) return `${prefix}${index}.${found}`;
    }
    return null;
  }
  for (const key in value) {
    if (RESERVED_KEYS.has(key)) return `${prefix}${key}`;
    const item = (value as Record<string, unknown>)[key];
    if (item === null || typeof item !== 'object') continue;
    const found = reservedKeyPath(item, '');
    if (found) return `${prefix}${key}.${found}`;
  }
  return null;
}

/**
 * The service's JSON body parser. JSON bodies must be UTF-8 (RFC 8259): evidence is stored as sent or refused,
 * never silently rewritten. Plain JSON.parse semantics (an own `__proto__` key is a data property, never a
 * prototype): the reserved-key check then refuses it naming the key, where the poisoning guard said only "not
 * valid JSON".
 */
export function parseJsonBody(
  parseJson: JsonTextParser,
  request: FastifyRequest,
  body: Buffer,
  done: BodyParsed,
): void {
  if (!isUtf8(body)) return done(badRequest('body is not valid UTF-8'), undefined);
  if (nestsDeeperThan(body, MAX_BODY_DEPTH)) {
    return done(badRequest(`body nests deeper than ${MAX_BODY_DEPTH} levels`), undefined);
  }
  const text = body.toString('utf8');
  parseJson(request, text, (error, parsed) => {
    if (error) return done(error, undefined);
    // Every body of the contract is an object; `null` would otherwise read as `{}` to the validation pipe.
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return done(badRequest('body must be a JSON object'), undefined);
    }
    const reserved = reservedKeyPath(parsed, '');
    if (reserved) return done(badRequest(`property ${reserved} should not exist`), undefined);
    // JSON.parse keeps the last of two equal keys: such a body says two things, so it is refused.
    const duplicate = findDuplicateKey(text, parsed);
    if (duplicate) return done(badRequest(`property ${duplicate} appears more than once`), undefined);
    done(null, parsed);
  });
}

/**
 * The same checks as `parseJsonBody`, with `JSON.parse` for the parser, without a request: the parsed object
 * when the body passes every one of them, else null. It never produces an error message: a caller that gets
 * null parses the body with `parseJsonBody`, whose answer is the contract's. `JSON.parse` accepts no text the
 * service's parser refuses (that parser is `JSON.parse` with a leading byte-order mark skipped), so an object
 * returned here is one `parseJsonBody` would have returned too.
 */
export function acceptedJsonBody(body: Uint8Array): object | null {
  if (!isUtf8(body) || nestsDeeperThan(body, MAX_BODY_DEPTH)) return null;
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  if (reservedKeyPath(parsed, '') !== null || findDuplicateKey(text, parsed) !== null) return null;
  return parsed;
}

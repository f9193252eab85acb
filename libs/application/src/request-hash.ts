import { createHash } from 'node:crypto';
import { canonicalJson, InvalidInputError } from '@ledger/domain';

/**
 * Identifies a request for Idempotency-Key comparison: the same route and the same body, whatever the key
 * order. A body holding a number JSON cannot represent (`1e999` parses to Infinity) has no canonical form.
 * The path is compared decoded, as the router reads it: `/v1/devices/cam%2D1/grants` is `…/cam-1/grants`.
 */
export function requestHash(method: string, path: string, body: unknown): string {
  const route = path.split('/').map(decodeSegment).join('/');
  let canonical: string;
  try {
    canonical = canonicalJson(body ?? null);
  } catch (error) {
    if (error instanceof TypeError)
      throw new InvalidInputError('body', 'holds a number JSON cannot represent');
    throw error;
  }
  return createHash('sha256').update(`${method} ${route}\n${canonical}`).digest('hex');
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // not percent-encoding the router could read either: compared as sent
  }
}

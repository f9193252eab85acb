import { createHash } from 'node:crypto';
import { canonicalJson, InvalidInputError } from '@ledger/domain';

/**
 * Identifies a request for Idempotency-Key comparison: the same route and the same body, whatever the key
 * order. A body holding a number JSON cannot represent (`1e999` parses to Infinity) has no canonical form.
 */
export function requestHash(method: string, route: string, body: unknown): string {
  let canonical: string;
  try {
    canonical = canonicalJson(body ?? null);
  } catch (error) {
    if (error instanceof TypeError) throw new InvalidInputError('body', 'holds a number JSON cannot represent');
    throw error;
  }
  return createHash('sha256').update(`${method} ${route}\n${canonical}`).digest('hex');
}

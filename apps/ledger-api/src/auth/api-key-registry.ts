import { hash } from 'node:crypto';
import type { ApiKeyConfig, Scope } from '@ledger/config';

export interface AuthenticatedClient {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
}

/** Why a caller was turned away; each transport turns it into its own status (401/403, UNAUTHENTICATED/…). */
export type Authentication =
  | { readonly ok: true; readonly client: AuthenticatedClient }
  | { readonly ok: false; readonly failure: 'unauthenticated' | 'forbidden'; readonly message: string };

/**
 * The configured API keys, shared by every transport (HTTP guard, gRPC metadata). Bearer keys are looked up
 * by their SHA-256: the comparison an attacker can time is over digests of their own guesses, which says
 * nothing about any real key (and is constant-time per digest byte anyway).
 */
export class ApiKeyRegistry {
  private readonly byDigest: Map<string, AuthenticatedClient>;

  constructor(keys: readonly ApiKeyConfig[]) {
    this.byDigest = new Map(
      keys.map((k) => [
        digest(k.key),
        { name: k.name, scopes: new Set(k.scopes) } satisfies AuthenticatedClient,
      ]),
    );
  }

  /** `authorization` is the header (or metadata) value as received: `Bearer <key>`. */
  authenticate(authorization: unknown, scope: Scope): Authentication {
    const match = typeof authorization === 'string' ? /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization) : null;
    if (!match) {
      return {
        ok: false,
        failure: 'unauthenticated',
        message: 'missing or malformed Authorization: Bearer <key> header',
      };
    }
    const client = this.byDigest.get(digest(match[1]));
    if (!client) return { ok: false, failure: 'unauthenticated', message: 'unknown API key' };
    if (!client.scopes.has(scope)) {
      return { ok: false, failure: 'forbidden', message: `this API key lacks the ${scope} scope` };
    }
    return { ok: true, client };
  }
}

/** The one-shot hash: no Hash object per request (this runs on every authenticated call). */
function digest(key: string): string {
  return hash('sha256', key, 'base64');
}

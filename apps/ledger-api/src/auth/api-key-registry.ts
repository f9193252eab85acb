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
  /**
   * Per connection, the last `Authorization` value a key was found for. A keep-alive connection sends the
   * same header on every request: comparing with it costs a string pass instead of a SHA-256 and a regular
   * expression. Weakly held: a closed connection's entry goes with it.
   */
  private readonly lastOnConnection = new WeakMap<object, { header: string; client: AuthenticatedClient }>();

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
    const client = this.identify(authorization);
    return 'ok' in client ? client : withScope(client, scope);
  }

  /**
   * `authenticate` for a request that came on `connection` (an HTTP socket). The header is compared with the
   * one last accepted on the same connection in constant time for its length: a proxy that carries several
   * callers' requests on one connection lets a caller compare its header with another's, and that comparison
   * must not tell how much of it matched. Anything else takes the digest lookup.
   */
  authenticateOn(
    connection: object | null | undefined,
    authorization: unknown,
    scope: Scope,
  ): Authentication {
    if (connection === null || connection === undefined) return this.authenticate(authorization, scope);
    if (typeof authorization === 'string') {
      const last = this.lastOnConnection.get(connection);
      if (last !== undefined && sameText(last.header, authorization)) return withScope(last.client, scope);
    }
    const client = this.identify(authorization);
    if ('ok' in client) return client;
    this.lastOnConnection.set(connection, { header: authorization as string, client });
    return withScope(client, scope);
  }

  private identify(authorization: unknown): AuthenticatedClient | (Authentication & { ok: false }) {
    const match = typeof authorization === 'string' ? /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization) : null;
    if (!match) {
      return {
        ok: false,
        failure: 'unauthenticated',
        message: 'missing or malformed Authorization: Bearer <key> header',
      };
    }
    return (
      this.byDigest.get(digest(match[1])) ?? {
        ok: false,
        failure: 'unauthenticated',
        message: 'unknown API key',
      }
    );
  }
}

function withScope(client: AuthenticatedClient, scope: Scope): Authentication {
  if (!client.scopes.has(scope)) {
    return { ok: false, failure: 'forbidden', message: `this API key lacks the ${scope} scope` };
  }
  return { ok: true, client };
}

/** The one-shot hash: no Hash object per request (this runs on every authenticated call). */
function digest(key: string): string {
  return hash('sha256', key, 'base64');
}

/** Equal texts, compared without stopping at the first difference (only a length mismatch ends it early). */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

import { hash, timingSafeEqual } from 'node:crypto';
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
  /** Per connection: the last header that identified a caller, and whom it identified. */
  private readonly admittedOn = new WeakMap<
    object,
    { readonly header: Buffer; readonly client: AuthenticatedClient }
  >();

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
    return admit(this.identify(authorization), scope);
  }

  /**
   * As `authenticate`, for a request on a kept-alive `connection` (its socket): one that sent this very header
   * before and was let in is known without matching and hashing it again (about 1.5 µs of a check's ~45 µs of
   * CPU, docs/benchmarks.md). The header is compared with the one that connection sent, in constant time: a
   * proxy may carry many callers on one connection, and none may time its guesses against another's key.
   */
  authenticateOn(connection: object, authorization: unknown, scope: Scope): Authentication {
    if (typeof authorization !== 'string') return this.authenticate(authorization, scope);
    const sent = Buffer.from(authorization, 'latin1');
    const last = this.admittedOn.get(connection);
    if (last !== undefined && last.header.length === sent.length && timingSafeEqual(last.header, sent)) {
      return admit(last.client, scope);
    }
    const identified = this.identify(authorization);
    if (!('failure' in identified)) this.admittedOn.set(connection, { header: sent, client: identified });
    return admit(identified, scope);
  }

  private identify(authorization: unknown): AuthenticatedClient | Unidentified {
    const match = typeof authorization === 'string' ? /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization) : null;
    if (!match) {
      return {
        failure: 'unauthenticated',
        message: 'missing or malformed Authorization: Bearer <key> header',
      };
    }
    return this.byDigest.get(digest(match[1])) ?? { failure: 'unauthenticated', message: 'unknown API key' };
  }
}

type Unidentified = { readonly failure: 'unauthenticated'; readonly message: string };

function admit(identified: AuthenticatedClient | Unidentified, scope: Scope): Authentication {
  if ('failure' in identified) return { ok: false, ...identified };
  if (!identified.scopes.has(scope)) {
    return { ok: false, failure: 'forbidden', message: `this API key lacks the ${scope} scope` };
  }
  return { ok: true, client: identified };
}

/** The one-shot hash: no Hash object per request (this runs on every authenticated call). */
function digest(key: string): string {
  return hash('sha256', key, 'base64');
}

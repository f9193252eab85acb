import {
  Injectable,
  SetMetadata,
  UnauthorizedException,
  ForbiddenException,
  type CanActivate,
  type ExecutionContext,
  Inject,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import type { ApiKeyConfig, Scope } from '@ledger/config';

export const API_KEYS = Symbol('API_KEYS');
const SCOPE_METADATA = 'ledger:scope';

/** The scope a route needs; routes without one are public (health, docs). */
export const RequireScope = (scope: Scope) => SetMetadata(SCOPE_METADATA, scope);

export interface AuthenticatedClient {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
}

declare module 'fastify' {
  interface FastifyRequest {
    client?: AuthenticatedClient;
  }
}

/**
 * Bearer keys are looked up by their SHA-256: the comparison an attacker can time is over digests of their
 * own guesses, which says nothing about any real key (and is constant-time per digest byte anyway).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly byDigest: Map<string, AuthenticatedClient>;

  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEYS) keys: readonly ApiKeyConfig[],
  ) {
    this.byDigest = new Map(
      keys.map((k) => [
        digest(k.key),
        { name: k.name, scopes: new Set(k.scopes) } satisfies AuthenticatedClient,
      ]),
    );
  }

  canActivate(context: ExecutionContext): boolean {
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!scope) return true;
    const request = context.switchToHttp().getRequest<import('fastify').FastifyRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S{1,512})\s*$/i.exec(header) : null;
    if (!match) throw new UnauthorizedException('missing or malformed Authorization: Bearer <key> header');
    const client = this.byDigest.get(digest(match[1]));
    if (!client) throw new UnauthorizedException('unknown API key');
    if (!client.scopes.has(scope)) throw new ForbiddenException(`this API key lacks the ${scope} scope`);
    request.client = client;
    return true;
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64');
}

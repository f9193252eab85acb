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
import type { ApiKeyConfig, Scope } from '@ledger/config';
import type { FastifyRequest } from 'fastify';
import { ApiKeyRegistry, type AuthenticatedClient } from './api-key-registry';

export type { AuthenticatedClient };

export const API_KEYS = Symbol('API_KEYS');
const SCOPE_METADATA = 'ledger:scope';

/** The scope a route needs; routes without one are public (health, docs). */
export const RequireScope = (scope: Scope) => SetMetadata(SCOPE_METADATA, scope);

/** The scope a controller method declares with `@RequireScope` (read once by routes served outside Nest). */
export function requiredScope(handler: object): Scope | undefined {
  return Reflect.getMetadata(SCOPE_METADATA, handler) as Scope | undefined;
}

/** An HTTP request's key checked for `scope`: the caller on the request, or the contract's 401/403. */
export function authenticateRequest(registry: ApiKeyRegistry, request: FastifyRequest, scope: Scope): void {
  const authentication = registry.authenticate(request.headers.authorization, scope);
  if (!authentication.ok) {
    throw authentication.failure === 'forbidden'
      ? new ForbiddenException(authentication.message)
      : new UnauthorizedException(authentication.message);
  }
  request.client = authentication.client;
}

declare module 'fastify' {
  interface FastifyRequest {
    client?: AuthenticatedClient;
  }
}

/** The HTTP face of the API keys: the route's scope from its metadata, the key from `Authorization`. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly registry: ApiKeyRegistry;

  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEYS) keys: readonly ApiKeyConfig[],
  ) {
    this.registry = new ApiKeyRegistry(keys);
  }

  canActivate(context: ExecutionContext): boolean {
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!scope) return true;
    authenticateRequest(this.registry, context.switchToHttp().getRequest<FastifyRequest>(), scope);
    return true;
  }
}

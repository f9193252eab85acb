import { BadRequestException, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { requestHash, type WriteContext } from '@ledger/application';

/**
 * The write context of a request: its Idempotency-Key (≤ 128 characters) scoped to the calling client, and
 * a hash of the route and body so a reuse with another body is told apart.
 */
export const WriteCtx = createParamDecorator(
  (_data: unknown, context: ExecutionContext): WriteContext =>
    writeContextOf(context.switchToHttp().getRequest<FastifyRequest>()),
);

/** The write context of an HTTP request (`WriteCtx` for routes served outside Nest's pipeline). */
export function writeContextOf(request: FastifyRequest): WriteContext {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return {};
  const key = Array.isArray(header) ? header[0] : header;
  if (typeof key !== 'string' || key.length === 0 || key.length > 128 || /[^\x21-\x7e]/.test(key)) {
    throw new BadRequestException('Idempotency-Key must be 1–128 printable ASCII characters');
  }
  const route = request.routeOptions?.url ?? request.url;
  return {
    idempotency: {
      scope: `${request.client?.name ?? 'anonymous'}:${key}`,
      requestHash: requestHash(request.method, request.url.split('?')[0] ?? route, request.body),
    },
  };
}

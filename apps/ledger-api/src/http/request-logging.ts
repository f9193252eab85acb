import { randomUUID } from 'node:crypto';
import { RequestMethod } from '@nestjs/common';
import type { RouteInfo } from '@nestjs/common/interfaces';
import type { FastifyInstance } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Level } from 'pino';

/**
 * The routes every media view pays for (a check or an authorization per thumbnail, views reported in bulk).
 * nestjs-pino's middleware runs each request inside an AsyncLocalStorage context and builds a child logger
 * for it — about an eighth of a check's CPU — so these routes are logged by the two Fastify hooks below
 * instead: same request id rules, same levels, same line shape, no per-request context or child logger.
 * Lines logged from inside their handlers carry no request id (there is none to read without the context).
 */
export const HOT_ROUTES: readonly RouteInfo[] = [
  { path: 'v1/check', method: RequestMethod.POST },
  { path: 'v1/check/bulk', method: RequestMethod.POST },
  { path: 'v1/media/authorize', method: RequestMethod.POST },
  { path: 'v1/views', method: RequestMethod.POST },
  { path: 'v1/views/batch', method: RequestMethod.POST },
];

/** Request ids (Fastify's `genReqId`): the caller's X-Request-Id when it sends a sane one, else a fresh UUID. */
export function requestIdFrom(given: unknown): string {
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * Successful requests log at debug: at info a busy ledger would spend its time writing logs. A 503 (token not
 * reached in time, store briefly away) is an expected, retryable answer.
 */
export function requestLogLevel(statusCode: number, error?: unknown): Level {
  if (statusCode >= 500 && statusCode !== 503) return 'error';
  return error || statusCode >= 400 ? 'warn' : 'debug';
}

/**
 * Every route: echoes the request id (Fastify's, from `requestIdFrom` — pino-http takes it from the request)
 * and logs HOT_ROUTES, which skip nestjs-pino's middleware.
 */
export function logHotRoutes(instance: FastifyInstance): void {
  const hot = new Set(HOT_ROUTES.map((route) => `${RequestMethod[route.method]} /${route.path}`));
  instance.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  instance.addHook('onResponse', (request, reply, done) => {
    const logger = PinoLogger.root;
    if (logger && hot.has(`${request.method} ${request.routeOptions.url}`)) {
      const level = requestLogLevel(reply.statusCode);
      if (logger.isLevelEnabled(level)) {
        logger[level](
          {
            req: { id: request.id, method: request.method, url: request.url },
            // pino-http's own serializer turns the raw response into the same `res` as on other routes.
            res: reply.raw,
            responseTime: Math.round(reply.elapsedTime),
          },
          reply.statusCode >= 500 ? 'request errored' : 'request completed',
        );
      }
    }
    done();
  });
}

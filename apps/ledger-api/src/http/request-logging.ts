import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Level } from 'pino';

/** Request ids (Fastify's `genReqId`): the caller's X-Request-Id when it sends a sane one, else a fresh UUID. */
export function requestIdFrom(given: unknown): string {
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * Successful requests log at debug: at info a busy ledger would spend its time writing logs. A 503 (token not
 * reached in time, store briefly away) is an expected, retryable answer.
 */
export function requestLogLevel(statusCode: number): Level {
  if (statusCode >= 500 && statusCode !== 503) return 'error';
  return statusCode >= 400 ? 'warn' : 'debug';
}

/**
 * Request logging as two Fastify hooks on pino's root logger, instead of nestjs-pino's middleware. That
 * middleware ran every request inside an AsyncLocalStorage context with a pino child logger; the first
 * `run` also switches on Node's promise hooks for the whole process, so every promise of every route paid
 * for it, and it brought Fastify's middleware engine (middie) onto every request. Together about an eighth of
 * a check's CPU. What is lost: lines logged from inside a handler carry no request id (errors of the
 * exception filter name the failure, not the request).
 */
export function logRequests(instance: FastifyInstance): void {
  instance.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  instance.addHook('onResponse', (request, reply, done) => {
    const logger = PinoLogger.root;
    const level = requestLogLevel(reply.statusCode);
    if (logger?.isLevelEnabled(level)) {
      logger[level](
        {
          req: { id: request.id, method: request.method, url: request.url },
          // pino-http's serializer (the root logger's) turns the raw response into `{statusCode, headers}`.
          res: reply.raw,
          responseTime: Math.round(reply.elapsedTime),
        },
        reply.statusCode >= 500 ? 'request errored' : 'request completed',
      );
    }
    done();
  });
}

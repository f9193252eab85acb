import { randomUUID } from 'node:crypto';
import type { LedgerConfig } from '@ledger/config';
import type { Options } from 'pino-http';

/** How the service logs requests (the destination is `NonBlockingLogDestination`). */
export function pinoHttpOptions(config: LedgerConfig): Options {
  return {
    level: config.logLevel,
    // Request ids: the caller's X-Request-Id when it sends a sane one, else a fresh UUID.
    genReqId: (request, reply) => {
      const given = request.headers['x-request-id'];
      const id = typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
      reply.setHeader('x-request-id', id);
      return id;
    },
    // Successful requests log at debug: at info a busy ledger would spend its time writing logs.
    // A 503 (token not reached in time, store briefly away) is an expected, retryable answer.
    customLogLevel: (_request, response, error) =>
      response.statusCode >= 500 && response.statusCode !== 503
        ? 'error'
        : error || response.statusCode >= 400
          ? 'warn'
          : 'debug',
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["idempotency-key"]'],
      censor: '[redacted]',
    },
    serializers: {
      req: (request: { id: string; method: string; url: string }) => ({
        id: request.id,
        method: request.method,
        url: request.url,
      }),
    },
  };
}

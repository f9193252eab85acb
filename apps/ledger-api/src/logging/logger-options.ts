import type { LedgerConfig } from '@ledger/config';
import type { Options } from 'pino-http';

/**
 * The root logger's options (the destination is `NonBlockingLogDestination`). Requests are logged by Fastify
 * hooks (http/request-logging.ts), which also set request ids and levels; these serializers shape their lines.
 */
export function pinoHttpOptions(config: LedgerConfig): Options {
  return {
    level: config.logLevel,
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

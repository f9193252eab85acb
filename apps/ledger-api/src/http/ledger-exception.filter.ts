import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ExportNotRecordedError, HeavyWorkBusyError } from '@ledger/application';
import { DomainError, type DomainErrorKind } from '@ledger/domain';
import { AppendTooLargeError, EventStoreError, MalformedTokenError } from '@ledger/event-store';
import { ConsistencyTimeoutError } from '@ledger/projections';
import { ViewBatchWorkerFailedError } from '../views/view-batch-worker';

const STATUS_BY_KIND: Record<DomainErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409 };
const PHRASE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The one place failures become HTTP: `{statusCode, error, message}` with the contract's statuses. */
@Catch()
export class LedgerExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('LedgerExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, message, retryAfter } = this.describe(exception);
    if (retryAfter !== undefined) void reply.header('Retry-After', String(retryAfter));
    void reply
      .status(status)
      .header('content-type', 'application/json; charset=utf-8')
      .send({ statusCode: status, error: PHRASE[status] ?? HttpStatus[status] ?? 'Error', message });
  }

  private describe(exception: unknown): { status: number; message: string; retryAfter?: number } {
    if (exception instanceof DomainError)
      return { status: STATUS_BY_KIND[exception.kind], message: exception.message };
    if (exception instanceof MalformedTokenError) return { status: 400, message: exception.message };
    if (exception instanceof ConsistencyTimeoutError)
      return { status: 503, message: exception.message, retryAfter: 1 };
    if (exception instanceof HeavyWorkBusyError)
      return { status: 429, message: exception.message, retryAfter: exception.retryAfterSeconds };
    if (exception instanceof ViewBatchWorkerFailedError) {
      this.logger.error(exception.message);
      return { status: 503, message: exception.message, retryAfter: 1 };
    }
    if (exception instanceof ExportNotRecordedError) {
      this.logger.error(exception.message);
      return { status: 503, message: exception.message, retryAfter: 1 };
    }
    if (exception instanceof HttpException) {
      const response = exception.getResponse();
      const raw =
        typeof response === 'object' && response !== null
          ? (response as { message?: unknown }).message
          : response;
      const message = Array.isArray(raw)
        ? raw.join('; ')
        : String(raw ?? notReady(response) ?? exception.message);
      return { status: exception.getStatus(), message };
    }
    if (exception instanceof AppendTooLargeError) {
      return {
        status: 413,
        message:
          `the write is ${exception.sizeBytes === null ? 'larger than' : `${exception.sizeBytes} bytes as stored, over`} ` +
          `the event store's maximum append size of ${exception.limitBytes} bytes and nothing was stored; send ` +
          `fewer or smaller items, or raise EventStoreDB's --max-append-size and EVENTSTORE_MAX_APPEND_BYTES together`,
      };
    }
    if (exception instanceof EventStoreError) {
      this.logger.error(`event store failure: ${exception.message}`);
      return { status: 503, message: 'the event store is unavailable; retry', retryAfter: 1 };
    }
    // Fastify's own errors (body too large, bad JSON, bad content type) carry their status.
    const statusCode = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return { status: statusCode, message: (exception as Error).message };
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    );
    return { status: 500, message: 'internal error' };
  }
}

/** A failed health check (Terminus' result) as one line naming each indicator that is down and why. */
function notReady(response: unknown): string | undefined {
  const down = (response as { error?: Record<string, { message?: unknown; reason?: unknown }> } | null)
    ?.error;
  if (typeof down !== 'object' || down === null) return undefined;
  const parts = Object.entries(down).map(([name, info]) => {
    const why = [info?.reason, info?.message].filter((part) => typeof part === 'string').join(': ');
    return why ? `${name} (${why})` : name;
  });
  return parts.length > 0 ? `not ready: ${parts.join('; ')}` : undefined;
}

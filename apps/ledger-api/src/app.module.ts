import { randomUUID } from 'node:crypto';
import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { ApiKeyConfig, LedgerConfig } from '@ledger/config';
import { API_KEYS, ApiKeyGuard } from './auth/api-key.guard';
import { AuditController } from './audit/audit.controller';
import { ChecksController } from './checks/checks.controller';
import { DevicesController } from './devices/devices.controller';
import { HealthController } from './health/health.controller';
import { LedgerExceptionFilter } from './http/ledger-exception.filter';
import { LogController } from './log/log.controller';
import { LogIntegrityIndicator } from './log/log-integrity.indicator';
import { integrityMonitorProvider, IntegrityMonitorShutdown } from './log/log-integrity.providers';
import { LedgerLifecycle } from './ledger-lifecycle.service';
import { LEDGER_CONFIG, ledgerProviders } from './ledger.providers';
import { MetricsController } from './metrics/metrics.controller';
import { ViewsController } from './views/views.controller';
import { RelationshipFeed } from './watch/relationship-feed.service';
import { WatchController } from './watch/watch.controller';

@Module({})
export class AppModule {
  static forRoot(config: LedgerConfig, apiKeys: readonly ApiKeyConfig[]): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          pinoHttp: {
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
          },
        }),
      ],
      controllers: [
        DevicesController,
        AuditController,
        ViewsController,
        ChecksController,
        WatchController,
        LogController,
        HealthController,
        MetricsController,
      ],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        { provide: API_KEYS, useValue: apiKeys },
        ...ledgerProviders,
        LedgerLifecycle,
        RelationshipFeed,
        integrityMonitorProvider,
        IntegrityMonitorShutdown,
        LogIntegrityIndicator,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: LedgerExceptionFilter },
      ],
    };
  }
}

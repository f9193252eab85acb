import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { ApiKeyConfig, LedgerConfig } from '@ledger/config';
import { API_KEYS, ApiKeyGuard } from './auth/api-key.guard';
import { AuditController } from './audit/audit.controller';
import { ChecksController } from './checks/checks.controller';
import { DevicesController } from './devices/devices.controller';
import { LedgerGrpcServer } from './grpc/ledger-grpc.server';
import { HealthController } from './health/health.controller';
import { LedgerExceptionFilter } from './http/ledger-exception.filter';
import { LedgerLifecycle } from './ledger-lifecycle.service';
import { LEDGER_CONFIG, ledgerProviders } from './ledger.providers';
import { MetricsController } from './metrics/metrics.controller';
import { BulkIngestGate } from './views/bulk-ingest-gate';
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
          // No middleware: requests are logged by Fastify hooks (http/request-logging.ts), without the
          // per-request AsyncLocalStorage context. pino-http still builds the root logger and its serializers.
          forRoutes: [],
        }),
      ],
      controllers: [
        DevicesController,
        AuditController,
        ViewsController,
        ChecksController,
        WatchController,
        HealthController,
        MetricsController,
      ],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        { provide: API_KEYS, useValue: apiKeys },
        ...ledgerProviders,
        LedgerLifecycle,
        RelationshipFeed,
        LedgerGrpcServer,
        { provide: BulkIngestGate, useValue: new BulkIngestGate(1) },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: LedgerExceptionFilter },
      ],
    };
  }
}

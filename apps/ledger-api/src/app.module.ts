import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LedgerCommands } from '@ledger/application';
import type { ApiKeyConfig, LedgerConfig } from '@ledger/config';
import type { DataDirLock } from '@ledger/event-store';
import { API_KEYS, ApiKeyGuard } from './auth/api-key.guard';
import { AuditController } from './audit/audit.controller';
import { auditProviders } from './audit/audit.providers';
import { ChecksController } from './checks/checks.controller';
import { DevicesController } from './devices/devices.controller';
import { LedgerGrpcServer } from './grpc/ledger-grpc.server';
import { HealthController } from './health/health.controller';
import { LedgerExceptionFilter } from './http/ledger-exception.filter';
import { LogController } from './log/log.controller';
import { LogIntegrityIndicator } from './log/log-integrity.indicator';
import { integrityMonitorProvider, IntegrityMonitorShutdown } from './log/log-integrity.providers';
import { LedgerLifecycle } from './ledger-lifecycle.service';
import { pinoHttpOptions } from './logging/logger-options';
import { NonBlockingLogDestination } from './logging/non-blocking-log-destination';
import { DATA_DIR_LOCK, LEDGER_CONFIG, ledgerProviders } from './ledger.providers';
import { MetricsController } from './metrics/metrics.controller';
import { BulkIngestGate } from './views/bulk-ingest-gate';
import { startViewBatchThread } from './views/view-batch-thread';
import { ViewBatchWorker } from './views/view-batch-worker';
import { ViewsController } from './views/views.controller';
import { RelationshipFeed } from './watch/relationship-feed.service';
import { WatchController } from './watch/watch.controller';

@Module({})
export class AppModule {
  static forRoot(
    config: LedgerConfig,
    apiKeys: readonly ApiKeyConfig[],
    dataDirLock: DataDirLock,
  ): DynamicModule {
    // Logging must never stop the service (a full disk under stdout, a stalled pipe): see the destination.
    const logDestination = new NonBlockingLogDestination(process.stdout.fd ?? 1);
    return {
      module: AppModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          pinoHttp: [pinoHttpOptions(config), logDestination],
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
        LogController,
        HealthController,
        MetricsController,
      ],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        { provide: API_KEYS, useValue: apiKeys },
        { provide: DATA_DIR_LOCK, useValue: dataDirLock },
        { provide: NonBlockingLogDestination, useValue: logDestination },
        ...ledgerProviders,
        ...auditProviders,
        LedgerLifecycle,
        RelationshipFeed,
        LedgerGrpcServer,
        { provide: BulkIngestGate, useValue: new BulkIngestGate(1) },
        {
          provide: ViewBatchWorker,
          inject: [LedgerCommands],
          useFactory: (commands: LedgerCommands) =>
            new ViewBatchWorker(commands, startViewBatchThread, config.viewBatchTimeoutMs),
        },
        integrityMonitorProvider,
        IntegrityMonitorShutdown,
        LogIntegrityIndicator,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: LedgerExceptionFilter },
      ],
    };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { ApiKeyConfig, LedgerConfig } from '@ledger/config';
import { API_KEYS, ApiKeyGuard } from './auth/api-key.guard';
import { ChecksController } from './checks/checks.controller';
import { DevicesController } from './devices/devices.controller';
import { HealthController } from './health/health.controller';
import { LedgerExceptionFilter } from './http/ledger-exception.filter';
import { LedgerLifecycle } from './ledger-lifecycle.service';
import { LEDGER_CONFIG, ledgerProviders } from './ledger.providers';
import { ViewsController } from './views/views.controller';
import { RelationshipFeed } from './watch/relationship-feed.service';
import { WatchController } from './watch/watch.controller';

@Module({})
export class AppModule {
  static forRoot(config: LedgerConfig, apiKeys: readonly ApiKeyConfig[]): DynamicModule {
    return {
      module: AppModule,
      controllers: [DevicesController, ViewsController, ChecksController, WatchController, HealthController],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        { provide: API_KEYS, useValue: apiKeys },
        ...ledgerProviders,
        LedgerLifecycle,
        RelationshipFeed,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: LedgerExceptionFilter },
      ],
    };
  }
}

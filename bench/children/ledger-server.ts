import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { loadConfig } from '@ledger/config';
import { AppModule } from '../../apps/ledger-api/src/app.module';
import { RequireScope } from '../../apps/ledger-api/src/auth/api-key.guard';
import { createLedgerApp } from '../../apps/ledger-api/src/create-app';
import { LedgerGrpcServer } from '../../apps/ledger-api/src/grpc/ledger-grpc.server';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { writeFleetLog, type FleetShape } from '../lib/fixtures';
import { BENCH_API_KEY, BENCH_API_KEYS } from '../lib/keys';
import { reportReady } from '../lib/node-child';

/**
 * The baseline routes of the HTTP benchmarks: the same server stack as the product's routes (Fastify, Nest,
 * the global API-key guard, validation pipe, exception filter, pino-http, the metrics hook) but no DTO and no
 * ledger behind them. They exist only in this benchmark process, never in the product.
 */
@Controller('bench/bare')
class BareController {
  @Post('check')
  @HttpCode(200)
  @RequireScope('ledger:read')
  check(@Body() body: Record<string, unknown>) {
    return { allowed: typeof body.userId === 'string', role: 'owner', token: 'lt1.s' };
  }

  @Post('media/authorize')
  @HttpCode(200)
  @RequireScope('ledger:write')
  authorize(@Body() body: Record<string, unknown>) {
    return {
      allowed: typeof body.viewerId === 'string',
      role: 'viewer',
      token: 'lt1.s',
      eventId: '00000000-0000-4000-8000-000000000000',
    };
  }

  @Post('views/batch')
  @HttpCode(201)
  @RequireScope('ledger:write')
  batch(@Body() body: Record<string, unknown>) {
    return { count: Array.isArray(body.views) ? body.views.length : 0, token: 'lt1.s' };
  }
}

@Module({ controllers: [BareController] })
class BenchBareModule {}

interface ServerRequest {
  readonly dataDir: string;
  /** A fleet written to the log before the service starts (its projection then loads it). */
  readonly fleet: FleetShape | null;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2]) as ServerRequest;
  if (request.fleet) {
    const store = SqliteEventStore.open({ dataDir: request.dataDir });
    await writeFleetLog(store, request.fleet, 0);
    await store.close();
  }
  // createLedgerApp builds AppModule.forRoot(...): the bare routes join that module tree, so they run behind
  // exactly the same global guard, pipes, filter and hooks as the product's routes.
  const forRoot = AppModule.forRoot.bind(AppModule);
  AppModule.forRoot = (...args) => {
    const root = forRoot(...args);
    return { ...root, imports: [...(root.imports ?? []), BenchBareModule] };
  };
  const config = loadConfig({
    LEDGER_DATA_DIR: request.dataDir,
    LEDGER_API_KEYS: BENCH_API_KEYS,
    LOG_LEVEL: 'error',
    HOST: '127.0.0.1',
    GRPC_PORT: '0',
  });
  const { app } = await createLedgerApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  process.on('message', (message) => {
    if (message !== 'stop') return;
    void app.close().finally(() => process.exit(0));
  });
  const grpcPort = app.get(LedgerGrpcServer).port;
  reportReady({
    baseUrl: `http://127.0.0.1:${port}`,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    apiKey: BENCH_API_KEY,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

import { BadRequestException, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { RawServerDefault } from 'fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import { resolveApiKeys, type LedgerConfig, type ResolvedApiKeys } from '@ledger/config';
import { lockDataDir, type DataDirLock } from '@ledger/event-store';
import { AppModule } from './app.module';
import { LedgerMetrics } from './metrics/ledger-metrics';
import { observeHttpDurations } from './metrics/http-durations';
import { MAX_BODY_BYTES } from './http/body-limits';
import { MAX_BODY_DEPTH, parseJsonBody } from './http/json-body';
import { CompiledValidationPipe } from './http/compiled-validation';
import { logRequests, requestIdFrom } from './http/request-logging';
import { serveHotRoutesDirectly } from './http/direct-routes';
import { ApiKeyRegistry } from './auth/api-key-registry';
import { ChecksController } from './checks/checks.controller';
import { ViewsController } from './views/views.controller';
import { BulkIngestGate, gateBulkIngest } from './views/bulk-ingest-gate';
import { ViewBatchWorker } from './views/view-batch-worker';
import { PreparedViewBatch } from './views/view-batch-preparation';
import { describeErrors, VALIDATOR_OPTIONS } from './http/validation';

export { MAX_BODY_BYTES, MAX_BODY_DEPTH };

export interface CreatedLedgerApp {
  readonly app: NestFastifyApplication;
  readonly apiKeys: ResolvedApiKeys;
}

/**
 * Builds the HTTP service (not yet listening): used by `main.ts` and by the end-to-end tests. Takes the data
 * dir for this service alone first (one service per data dir): a second one fails here, before it opens
 * anything, with a `DataDirLockedError` naming the holder.
 */
export async function createLedgerApp(
  config: LedgerConfig,
  options: CreateLedgerAppOptions = {},
): Promise<CreatedLedgerApp> {
  const dataDirLock = await lockDataDir(config.dataDir, 'ledger-api');
  try {
    return await buildLedgerApp(config, dataDirLock, options);
  } catch (error) {
    dataDirLock.release();
    throw error;
  }
}

export interface CreateLedgerAppOptions {
  /**
   * false: the hot routes run through Nest's pipeline like every other route. Only the test that proves the
   * direct handlers answer exactly as Nest would sets it; the service always serves them directly.
   */
  readonly hotRoutesOutsideNest?: boolean;
}

async function buildLedgerApp(
  config: LedgerConfig,
  dataDirLock: DataDirLock,
  options: CreateLedgerAppOptions,
): Promise<CreatedLedgerApp> {
  const apiKeys = resolveApiKeys(config);
  const adapter = new FastifyAdapter({
    bodyLimit: MAX_BODY_BYTES,
    // Bodies have their own parser below, which refuses hostile keys by name.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: 256 },
    // No Nest middleware runs here (requests are logged by hooks): without middie, no request walks its
    // middleware engine. A middleware added later fails at start-up instead of being silently skipped.
    skipMiddie: true,
    genReqId: (request: { headers: Record<string, unknown> }) =>
      requestIdFrom(request.headers['x-request-id']),
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, apiKeys.keys, dataDirLock),
    adapter,
    { bufferLogs: true, abortOnError: false },
  );
  app.useLogger(app.get(PinoLogger));
  if (dataDirLock.tookOverFrom) {
    const { pid, host, startedAt } = dataDirLock.tookOverFrom;
    app
      .get(PinoLogger)
      .warn(
        `took over the data dir from pid ${pid} on ${host} (started ${startedAt}), which is no longer running`,
      );
  }
  const parseJson = app.getHttpAdapter().getInstance().getDefaultJsonParser('ignore', 'ignore');
  const viewBatches = app.get(ViewBatchWorker);
  viewBatches.answerHalfClosedConnections(app.getHttpServer());
  app.useBodyParser<RawServerDefault>(
    'application/json',
    { bodyLimit: MAX_BODY_BYTES },
    (request, body, done) => {
      // A view batch is parsed, validated and built on the worker thread; any body it cannot accept as it is
      // is parsed here as every other body, so refusals keep their messages.
      if (!viewBatches.takes(request)) return parseJsonBody(parseJson, request, body, done);
      viewBatches.prepare(body).then(
        (prepared) =>
          prepared instanceof PreparedViewBatch
            ? done(null, prepared)
            : parseJsonBody(parseJson, request, prepared, done),
        (error: Error) => done(error, undefined),
      );
    },
  );
  logRequests(app.getHttpAdapter().getInstance());
  gateBulkIngest(app.getHttpAdapter().getInstance(), app.get(BulkIngestGate));
  observeHttpDurations(app.getHttpAdapter().getInstance(), app.get(LedgerMetrics).httpDuration);
  const validation = new CompiledValidationPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    exceptionFactory: (errors) => new BadRequestException(describeErrors(errors).join('; ')),
  });
  if (options.hotRoutesOutsideNest !== false) {
    serveHotRoutesDirectly(app.getHttpAdapter().getInstance(), {
      registry: new ApiKeyRegistry(apiKeys.keys),
      validation,
      checks: app.get(ChecksController),
      views: app.get(ViewsController),
    });
  }
  const openApi = new DocumentBuilder()
    .setTitle('Access-control ledger')
    .setDescription(
      'Event-sourced user–device relationships, media views and their audit. Every write returns a token; every read can demand one (atLeast).',
    )
    .setVersion('1')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'API key (LEDGER_API_KEYS or the generated local admin key)',
    })
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openApi), {
    jsonDocumentUrl: 'docs-json',
  });
  app.useGlobalPipes(validation);
  app.enableShutdownHooks();
  return { app, apiKeys };
}

export type { INestApplication };

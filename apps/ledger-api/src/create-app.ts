import { BadRequestException, ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { ValidationError } from 'class-validator';
import { Logger as PinoLogger } from 'nestjs-pino';
import { resolveApiKeys, type LedgerConfig, type ResolvedApiKeys } from '@ledger/config';
import { AppModule } from './app.module';
import { LedgerMetrics } from './metrics/ledger-metrics';

export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Flattens nested validation errors so the message names the full field path (`views.3.occurredAt`). */
function describeErrors(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((m) =>
      m.startsWith(`${error.property} `) ? `${field}${m.slice(error.property.length)}` : `${field}: ${m}`,
    );
    return [...own, ...describeErrors(error.children ?? [], field)];
  });
}

export interface CreatedLedgerApp {
  readonly app: NestFastifyApplication;
  readonly apiKeys: ResolvedApiKeys;
}

/** Builds the HTTP service (not yet listening): used by `main.ts` and by the end-to-end tests. */
export async function createLedgerApp(config: LedgerConfig): Promise<CreatedLedgerApp> {
  const apiKeys = resolveApiKeys(config);
  const adapter = new FastifyAdapter({
    bodyLimit: MAX_BODY_BYTES,
    // Hostile keys are refused by the JSON parser itself.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: 256 },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, apiKeys.keys),
    adapter,
    { bufferLogs: true, abortOnError: false },
  );
  app.useLogger(app.get(PinoLogger));
  const metrics = app.get(LedgerMetrics);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
      done();
    });
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
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      stopAtFirstError: false,
      exceptionFactory: (errors) => new BadRequestException(describeErrors(errors).join('; ')),
    }),
  );
  app.enableShutdownHooks();
  return { app, apiKeys };
}

export type { INestApplication };

import { BadRequestException, ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ValidationError } from 'class-validator';
import { resolveApiKeys, type LedgerConfig, type ResolvedApiKeys } from '@ledger/config';
import { AppModule } from './app.module';

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
export async function createLedgerApp(
  config: LedgerConfig,
  options: { logger?: false | Array<'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal'> } = {},
): Promise<CreatedLedgerApp> {
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
    {
      logger: options.logger ?? ['log', 'error', 'warn'],
      abortOnError: false,
    },
  );
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

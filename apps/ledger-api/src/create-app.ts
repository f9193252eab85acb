import { isUtf8 } from 'node:buffer';
import { BadRequestException, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { RawServerDefault } from 'fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import { resolveApiKeys, type LedgerConfig, type ResolvedApiKeys } from '@ledger/config';
import { lockDataDir, type DataDirLock } from '@ledger/event-store';
import { findDuplicateKey } from '@ledger/domain';
import { AppModule } from './app.module';
import { LedgerMetrics } from './metrics/ledger-metrics';
import { observeHttpDurations } from './metrics/http-durations';
import { MAX_BODY_BYTES } from './http/body-limits';
import { CompiledValidationPipe } from './http/compiled-validation';
import { logRequests, requestIdFrom } from './http/request-logging';
import { serveHotRoutesDirectly } from './http/direct-routes';
import { ApiKeyRegistry } from './auth/api-key-registry';
import { ChecksController } from './checks/checks.controller';
import { ViewsController } from './views/views.controller';
import { BulkIngestGate, gateBulkIngest } from './views/bulk-ingest-gate';
import { describeErrors, VALIDATOR_OPTIONS } from './http/validation';

export { MAX_BODY_BYTES };
/** The deepest body of the contract nests 3 levels; hostile nesting must be a 400, not a stack overflow. */
export const MAX_BODY_DEPTH = 32;

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 });
}

/** One pass over JSON text: does any array or object nest deeper than `limit`? Strings are skipped. */
function nestsDeeperThan(body: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Field names no body of the contract has, which the validation layer cannot see: class-transformer drops keys
 * that name `Object.prototype` members (and lets `prototype` through), so they would be silently ignored
 * instead of refused as unknown fields.
 */
const RESERVED_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** Path of the first reserved key in a parsed body (nesting is already bounded), or null. */
function reservedKeyPath(value: unknown, prefix: string): string | null {
  if (value === null || typeof value !== 'object') return null;
  // Paths are built only for a hit: a 1000-view body is walked without allocating a string per value.
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (item === null || typeof item !== 'object') continue;
      const found = reservedKeyPath(item, '');
      if (found) return `${prefix}${index}.${found}`;
    }
    return null;
  }
  for (const key in value) {
    if (RESERVED_KEYS.has(key)) return `${prefix}${key}`;
    const item = (value as Record<string, unknown>)[key];
    if (item === null || typeof item !== 'object') continue;
    const found = reservedKeyPath(item, '');
    if (found) return `${prefix}${key}.${found}`;
  }
  return null;
}

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
  // JSON bodies must be UTF-8 (RFC 8259): evidence is stored as sent or refused, never silently rewritten.
  // Plain JSON.parse semantics (an own `__proto__` key is a data property, never a prototype): the reserved-key
  // check below then refuses it naming the key, where the poisoning guard said only "not valid JSON".
  const parseJson = app.getHttpAdapter().getInstance().getDefaultJsonParser('ignore', 'ignore');
  app.useBodyParser<RawServerDefault>(
    'application/json',
    { bodyLimit: MAX_BODY_BYTES },
    (request, body, done) => {
      if (!isUtf8(body)) return done(badRequest('body is not valid UTF-8'), undefined);
      if (nestsDeeperThan(body, MAX_BODY_DEPTH)) {
        return done(badRequest(`body nests deeper than ${MAX_BODY_DEPTH} levels`), undefined);
      }
      const text = body.toString('utf8');
      parseJson(request, text, (error, parsed) => {
        if (error) return done(error, undefined);
        // Every body of the contract is an object; `null` would otherwise read as `{}` to the validation pipe.
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          return done(badRequest('body must be a JSON object'), undefined);
        }
        const reserved = reservedKeyPath(parsed, '');
        if (reserved) return done(badRequest(`property ${reserved} should not exist`), undefined);
        // JSON.parse keeps the last of two equal keys: such a body says two things, so it is refused.
        const duplicate = findDuplicateKey(text, parsed);
        if (duplicate) return done(badRequest(`property ${duplicate} appears more than once`), undefined);
        done(null, parsed);
      });
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

import { HttpStatus, type PipeTransform } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { WriteContext } from '@ledger/application';
import type { ApiKeyRegistry } from '../auth/api-key-registry';
import { authenticateRequest, requiredScope } from '../auth/api-key.guard';
import { ChecksController } from '../checks/checks.controller';
import { BulkCheckDto, CheckDto } from '../dto/check.dto';
import { AuthorizeMediaDto } from '../dto/view.dto';
import { ViewsController } from '../views/views.controller';
import { compileDtoCheck } from './compiled-validation';
import { writeContextOf } from './idempotency-key';

type Dto = new (...args: never[]) => object;

/** One hot route: its controller method (the declaration OpenAPI reads) and how to call it with its inputs. */
interface DirectRoute<B> {
  readonly method: 'POST';
  readonly url: string;
  readonly body: new (...args: never[]) => B;
  /** The controller method: its `@RequireScope` and `@HttpCode` are read from it, not restated here. */
  readonly declared: (...args: never[]) => unknown;
  /** Whether the route takes an Idempotency-Key (a `@WriteCtx()` parameter). */
  readonly writes: boolean;
  readonly invoke: (body: B, ctx: WriteContext, reply: FastifyReply) => unknown;
}

export interface DirectRouteDeps {
  readonly registry: ApiKeyRegistry;
  /** The global validation pipe: a body the compiled check cannot accept goes through it, for its messages. */
  readonly validation: PipeTransform;
  readonly checks: ChecksController;
  readonly views: ViewsController;
}

/** Typed where it is declared; the handler only passes along a body the DTO rules accepted. */
function route<B>(spec: DirectRoute<B>): DirectRoute<unknown> {
  return { ...spec, invoke: (body, ctx, reply) => spec.invoke(body as B, ctx, reply) };
}

function directRoutes({ checks, views }: DirectRouteDeps): ReadonlyArray<DirectRoute<unknown>> {
  return [
    route({
      method: 'POST',
      url: '/v1/check',
      body: CheckDto,
      declared: ChecksController.prototype.check,
      writes: false,
      invoke: (body) => checks.check(body),
    }),
    route({
      method: 'POST',
      url: '/v1/check/bulk',
      body: BulkCheckDto,
      declared: ChecksController.prototype.bulk,
      writes: false,
      invoke: (body) => checks.bulk(body),
    }),
    route({
      method: 'POST',
      url: '/v1/media/authorize',
      body: AuthorizeMediaDto,
      declared: ViewsController.prototype.authorize,
      writes: true,
      invoke: (body, ctx, reply) => views.authorize(body, ctx, reply),
    }),
  ];
}

/**
 * The verification layer's hot routes served by plain Fastify handlers in place of Nest's router. Nest still
 * declares them (controllers, OpenAPI, the route's hooks: request log, metrics, bulk-ingest gate); as it
 * registers each one, its handler is swapped for one that does what the pipeline did for it, in the same
 * order, with the same pieces: the API-key check (guard), the Idempotency-Key (`WriteCtx`, evaluated before
 * the body's pipe as Nest's parameter resolution does), the DTO rules (compiled check, else the global pipe
 * itself), the declared status, then the controller method. A failure is thrown to Fastify's error handler,
 * which Nest points at the global exception filter: one mapping of errors to statuses and bodies.
 *
 * Why: Nest's per-request execution context, guard reflection, pipe promises and interceptor chain cost
 * about as much CPU as the check itself (docs/benchmarks.md, issue #14). Call before `app.init()`.
 */
export function serveHotRoutesDirectly(instance: FastifyInstance, deps: DirectRouteDeps): void {
  const routes = new Map(directRoutes(deps).map((r) => [`${r.method} ${r.url}`, r]));
  instance.addHook('onRoute', (options) => {
    if (typeof options.method !== 'string') return;
    const spec = routes.get(`${options.method} ${options.url}`);
    if (spec) options.handler = directHandler(spec, deps);
  });
}

function directHandler(spec: DirectRoute<unknown>, deps: DirectRouteDeps): RouteHandlerMethod {
  const scope = requiredScope(spec.declared);
  if (!scope) throw new Error(`${spec.url}: its controller method declares no @RequireScope`);
  const status =
    (Reflect.getMetadata(HTTP_CODE_METADATA, spec.declared) as number | undefined) ?? HttpStatus.CREATED;
  const check = compileDtoCheck(spec.body as Dto);
  const metadata = { type: 'body' as const, metatype: spec.body, data: undefined };
  // Not an async function: an answer ready at once (a check without `atLeast`) is sent without a promise and
  // its microtask turns; a throw goes to the same error handler as a rejection would.
  return (request: FastifyRequest, reply: FastifyReply) => {
    authenticateRequest(deps.registry, request, scope);
    void reply.status(status);
    const ctx = spec.writes ? writeContextOf(request) : {};
    const raw = request.body;
    if (check?.(raw)) return spec.invoke(raw, ctx, reply);
    return Promise.resolve(deps.validation.transform(raw, metadata)).then((body: unknown) =>
      spec.invoke(body, ctx, reply),
    );
  };
}

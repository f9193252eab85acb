import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { ClassConstructor } from 'class-transformer';
import {
  LedgerCommands,
  LedgerQueries,
  requestHash,
  type WriteContext,
  type WriteResult,
} from '@ledger/application';
import { DENIAL_REASON, LEDGER_SERVICE, MEDIA_TYPE, ROLE, VIEW_ACTION } from '@ledger/client';
import type { Scope } from '@ledger/config';
import type { Role } from '@ledger/domain';
import { MalformedTokenError, tokenToPosition, type LogPosition } from '@ledger/event-store';
import type { ApiKeyRegistry, AuthenticatedClient } from '../auth/api-key-registry';
import { BulkCheckDto, CheckDto } from '../dto/check.dto';
import { AtLeastQuery, DeviceIdParam } from '../dto/device.dto';
import { AuthorizeMediaDto, ViewBatchDto } from '../dto/view.dto';
import { validateAs } from '../http/validation';
import type { LedgerMetrics } from '../metrics/ledger-metrics';
import type { BulkIngestGate } from '../views/bulk-ingest-gate';
import type { RelationshipFeed } from '../watch/relationship-feed.service';
import { GrpcFeedSink } from './grpc-feed-sink';
import { GrpcFailure, toGrpcStatus, type DescribedFailure } from './grpc-status';

/** Messages as @grpc/proto-loader hands them over (PROTO_LOADER_OPTIONS): camelCase, unset fields absent. */
type Wire = Record<string, unknown>;

export interface LedgerGrpcDependencies {
  readonly queries: LedgerQueries;
  readonly commands: LedgerCommands;
  readonly feed: RelationshipFeed;
  readonly metrics: LedgerMetrics;
  readonly keys: ApiKeyRegistry;
  /** RecordViews takes turns with POST /v1/views/batch. */
  readonly bulkIngest: BulkIngestGate;
  /** Heartbeat period of Watch streams. */
  readonly heartbeatMs: number;
  readonly onUnexpected: (method: string, error: unknown) => void;
}

/**
 * The gRPC adapter of the application layer: the same commands and queries as the HTTP controllers, the same
 * DTO rules, the same API keys and scopes (from `authorization` metadata), the same tokens. Nothing here
 * decides anything; it translates.
 */
export class LedgerGrpcService {
  /** Watch streams still open, ended on shutdown so a graceful stop is not held open by them. */
  private readonly openSinks = new Set<GrpcFeedSink>();

  constructor(private readonly deps: LedgerGrpcDependencies) {}

  /** Handlers by method name, as grpc.Server#addService takes them. */
  handlers(): grpc.UntypedServiceImplementation {
    return {
      Check: this.unary('Check', 'ledger:read', (request) => this.check(request)),
      CheckBulk: this.unary('CheckBulk', 'ledger:read', (request) => this.checkBulk(request)),
      Authorize: this.unary('Authorize', 'ledger:write', (request, call, client) =>
        this.authorize(request, writeContext(call, client, 'Authorize', request)),
      ),
      RecordViews: this.unary('RecordViews', 'ledger:write', (request, call, client) =>
        this.recordViews(request, writeContext(call, client, 'RecordViews', request)),
      ),
      GetDeviceAccess: this.unary('GetDeviceAccess', 'ledger:read', (request) => this.deviceAccess(request)),
      Watch: (call: grpc.ServerWritableStream<Wire, Wire>) => this.watch(call),
    };
  }

  /** Ends every open Watch stream (status OK: the feed is over, resume elsewhere with the last token). */
  endStreams(): void {
    for (const sink of this.openSinks) sink.end();
    this.openSinks.clear();
  }

  private async check(request: Wire): Promise<Wire> {
    const input = validated(CheckDto, pick(request, ['userId', 'deviceId', 'atLeast', 'at']));
    const result = await this.deps.queries.check(input);
    this.deps.metrics.countDecisions('grpc_check', result.allowed);
    return { allowed: result.allowed, role: roleToWire(result.role), token: result.token };
  }

  private async checkBulk(request: Wire): Promise<Wire> {
    const items = Array.isArray(request.items)
      ? request.items.map((item: Wire) => pick(item, ['userId', 'deviceId']))
      : [];
    const input = validated(BulkCheckDto, { ...pick(request, ['atLeast', 'at']), items });
    const answer = await this.deps.queries.checkBulk(input.items, input.atLeast, input.at);
    const allowed = answer.results.filter((r) => r.allowed).length;
    const { metrics } = this.deps;
    if (allowed > 0) metrics.countDecisions('grpc_check_bulk', true, allowed);
    if (answer.results.length > allowed) {
      metrics.countDecisions('grpc_check_bulk', false, answer.results.length - allowed);
    }
    return {
      results: answer.results.map((r) => ({
        userId: r.userId,
        deviceId: r.deviceId,
        allowed: r.allowed,
        role: roleToWire(r.role),
      })),
      token: answer.token,
    };
  }

  private async authorize(request: Wire, context: () => WriteContext): Promise<Wire> {
    const input = validated(AuthorizeMediaDto, {
      ...pick(request, ['viewerId', 'deviceId', 'mediaId', 'servedBy']),
      mediaType: MEDIA_TYPE.fromWire(request.mediaType),
      action: VIEW_ACTION.fromWire(request.action),
    });
    const result: WriteResult = await this.deps.commands.authorize(input, context());
    const body = result.body as Record<string, unknown>;
    this.deps.metrics.countDecisions('grpc_authorize', body.allowed === true);
    return body.allowed === true
      ? { allowed: true, role: roleToWire(body.role as Role), token: body.token, eventId: body.eventId }
      : {
          allowed: false,
          reason: DENIAL_REASON.toWire(body.reason as Parameters<typeof DENIAL_REASON.toWire>[0]),
          token: body.token,
          eventId: body.eventId,
        };
  }

  private async recordViews(request: Wire, context: () => WriteContext): Promise<Wire> {
    const turn = await this.deps.bulkIngest.enter();
    try {
      // Validation and building run synchronously up to the store's append: once the call returns, the batch
      // is in the store's hands and the next one may be built while this one commits.
      const recorded = this.recordViewsInTurn(request, context);
      turn.built();
      return await recorded;
    } finally {
      turn.done();
    }
  }

  private async recordViewsInTurn(request: Wire, context: () => WriteContext): Promise<Wire> {
    const views = Array.isArray(request.views)
      ? request.views.map((view: Wire) => ({
          ...pick(view, ['viewerId', 'deviceId', 'mediaId', 'occurredAt', 'servedBy', 'decisionToken']),
          mediaType: MEDIA_TYPE.fromWire(view.mediaType),
          action: VIEW_ACTION.fromWire(view.action),
        }))
      : [];
    const input = validated(ViewBatchDto, { views });
    const result = await this.deps.commands.recordViews(input.views, context());
    return { count: result.body.count, token: result.body.token };
  }

  private async deviceAccess(request: Wire): Promise<Wire> {
    const { deviceId } = validated(DeviceIdParam, pick(request, ['deviceId']));
    const { atLeast } = validated(AtLeastQuery, pick(request, ['atLeast']));
    const access = await this.deps.queries.deviceAccess(deviceId, atLeast);
    return {
      deviceId: access.deviceId,
      ...(access.owner ? { owner: access.owner } : {}),
      viewers: access.viewers.map((v) => ({
        userId: v.userId,
        role: roleToWire(v.role),
        since: v.since,
        ...(v.expiresAt === null ? {} : { expiresAt: v.expiresAt }),
      })),
      token: access.token,
    };
  }

  /**
   * The HTTP feed's own admission and pacing (RelationshipFeed.openSink): the per-key stream limit and the
   * resume bound are checked before the first message; history goes out only as fast as the client reads.
   */
  private watch(call: grpc.ServerWritableStream<Wire, Wire>): void {
    const fail = (failure: DescribedFailure) => {
      if (failure.unexpected !== undefined) this.deps.onUnexpected('Watch', failure.unexpected);
      call.emit('error', failure.error);
    };
    const authentication = this.authenticate(call, 'ledger:read');
    if (authentication instanceof GrpcFailure) return fail(toGrpcStatus(authentication));
    let after: LogPosition | null = null;
    if (call.request.after !== undefined) {
      try {
        after = tokenToPosition(String(call.request.after));
      } catch (error) {
        return fail(
          toGrpcStatus(
            error instanceof MalformedTokenError
              ? new GrpcFailure(status.INVALID_ARGUMENT, 'after is not a token issued by this ledger')
              : error,
          ),
        );
      }
    }
    const sink = new GrpcFeedSink(call);
    this.openSinks.add(sink);
    sink.whenClosed(() => this.openSinks.delete(sink));
    this.deps.feed
      .openSink(sink, authentication.name, after, undefined, this.deps.heartbeatMs)
      .catch((error: unknown) => {
        this.openSinks.delete(sink);
        fail(toGrpcStatus(error));
      });
  }

  /**
   * Authentication, then the handler, then the one mapping of failures to statuses. A call whose deadline
   * passed (or that the client cancelled) before the handler ran is not executed: nothing is appended for an
   * answer nobody waits for.
   */
  private unary(
    method: string,
    scope: Scope,
    handle: (
      request: Wire,
      call: grpc.ServerUnaryCall<Wire, Wire>,
      client: AuthenticatedClient,
    ) => Promise<Wire>,
  ): grpc.handleUnaryCall<Wire, Wire> {
    return (call, callback) => {
      const authentication = this.authenticate(call, scope);
      if (authentication instanceof GrpcFailure) {
        callback(toGrpcStatus(authentication).error);
        return;
      }
      if (call.cancelled) return;
      handle(call.request, call, authentication).then(
        (response) => callback(null, response),
        (error: unknown) => {
          const failure = toGrpcStatus(error);
          if (failure.unexpected !== undefined) this.deps.onUnexpected(method, failure.unexpected);
          callback(failure.error);
        },
      );
    };
  }

  private authenticate(
    call: grpc.ServerUnaryCall<Wire, Wire> | grpc.ServerWritableStream<Wire, Wire>,
    scope: Scope,
  ): AuthenticatedClient | GrpcFailure {
    const values = call.metadata.get('authorization');
    const authentication = this.deps.keys.authenticate(values.length === 1 ? values[0] : undefined, scope);
    if (authentication.ok) return authentication.client;
    return new GrpcFailure(
      authentication.failure === 'forbidden' ? status.PERMISSION_DENIED : status.UNAUTHENTICATED,
      authentication.message.replace(
        'Authorization: Bearer <key> header',
        'authorization: Bearer <key> metadata',
      ),
    );
  }
}

/** The request's fields the contract knows, and only those that are set. */
function pick(message: Wire, fields: readonly string[]): Wire {
  const picked: Wire = {};
  for (const field of fields) if (message[field] !== undefined) picked[field] = message[field];
  return picked;
}

function validated<T extends object>(type: ClassConstructor<T>, plain: object): T {
  const outcome = validateAs(type, plain);
  if ('message' in outcome) throw new GrpcFailure(status.INVALID_ARGUMENT, outcome.message);
  return outcome.value;
}

function roleToWire(role: Role | null): string | undefined {
  return role === null ? undefined : ROLE.toWire(role);
}

/**
 * The write context of a call, as the HTTP API builds it from Idempotency-Key: the key scoped to the calling
 * client, and a hash of the method and request so a reuse with another request is told apart. Built lazily,
 * after validation, so a malformed request is refused for what is wrong with it first.
 */
function writeContext(
  call: grpc.ServerUnaryCall<Wire, Wire>,
  client: AuthenticatedClient,
  method: string,
  request: Wire,
): () => WriteContext {
  return () => {
    if (call.cancelled) throw new GrpcFailure(status.CANCELLED, 'the call ended before it was executed');
    const values = call.metadata.get('idempotency-key');
    if (values.length === 0) return {};
    const key = values[0];
    if (
      values.length > 1 ||
      typeof key !== 'string' ||
      key.length === 0 ||
      key.length > 128 ||
      /[^\x21-\x7e]/.test(key)
    ) {
      throw new GrpcFailure(
        status.INVALID_ARGUMENT,
        'idempotency-key must be 1–128 printable ASCII characters',
      );
    }
    return {
      idempotency: {
        scope: `${client.name}:${key}`,
        requestHash: requestHash('POST', `/${LEDGER_SERVICE}/${method}`, request),
      },
    };
  };
}

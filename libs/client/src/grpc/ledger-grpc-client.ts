import * as grpc from '@grpc/grpc-js';
import type {
  AuthorizeRequest,
  AuthorizeResponse,
  BulkCheckResponse,
  CheckResponse,
  DeviceAccess,
  RelationshipChangeEvent,
  View,
} from '../ledger-client.types';
import {
  decodeRetryDelayMs,
  DENIAL_REASON,
  loadLedgerPackage,
  MEDIA_TYPE,
  OLDEST_RESUMABLE_TOKEN_KEY,
  ROLE,
  STATUS_DETAILS_KEY,
  VIEW_ACTION,
} from './ledger-proto';

export interface LedgerGrpcClientOptions {
  /** `host:port` of the ledger's gRPC API (GRPC_PORT). */
  readonly address: string;
  readonly apiKey: string;
  /** Plaintext by default (a sidecar or a private network); pass TLS credentials otherwise. */
  readonly credentials?: grpc.ChannelCredentials;
  /** Deadline of every unary call; default 10 s. */
  readonly deadlineMs?: number;
  readonly channelOptions?: grpc.ChannelOptions;
}

export interface GrpcCallOptions {
  readonly deadlineMs?: number;
  /** For writes: repeating a call with the same key and request returns the first answer, appends nothing. */
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

/**
 * A call that ended with a status other than OK, with the retry delay the server advised (UNAVAILABLE, and
 * RESOURCE_EXHAUSTED for a Watch past the key's stream limit) and, for a Watch refused with OUT_OF_RANGE, the
 * oldest token it could have resumed after.
 */
export class LedgerGrpcError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    readonly retryDelayMs?: number,
    readonly oldestResumableToken?: string,
  ) {
    super(`${grpc.status[code] ?? code}: ${details}`);
    this.name = 'LedgerGrpcError';
  }
}

export type WatchMessage =
  | { readonly type: 'change'; readonly change: RelationshipChangeEvent }
  | { readonly type: 'heartbeat'; readonly token: string }
  /** The last message: this client fell too far behind. Watch again with `after: resumeAfter`. */
  | { readonly type: 'overflow'; readonly message: string; readonly resumeAfter: string };

type Wire = Record<string, unknown>;
type WatchMethod = (request: Wire, metadata: grpc.Metadata) => grpc.ClientReadableStream<Wire>;
type UnaryMethod = (
  request: Wire,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Wire) => void,
) => grpc.ClientUnaryCall;

/**
 * Typed client of the gRPC API (proto/ledger/v1/ledger.proto) in the HTTP client's vocabulary: the same
 * request and answer types, tokens on every answer, denials as answers (`allowed: false`), not errors.
 */
export class LedgerGrpcClient {
  private readonly client: grpc.Client & Record<string, UnaryMethod>;
  /** The newest token this client has seen; pass it as `atLeast` to read your own writes. */
  lastToken: string | undefined;

  constructor(private readonly options: LedgerGrpcClientOptions) {
    const loaded = grpc.loadPackageDefinition(loadLedgerPackage()) as unknown as {
      ledger: { v1: { LedgerService: grpc.ServiceClientConstructor } };
    };
    this.client = new loaded.ledger.v1.LedgerService(
      options.address,
      options.credentials ?? grpc.credentials.createInsecure(),
      options.channelOptions,
    ) as grpc.Client & Record<string, UnaryMethod>;
  }

  async check(
    request: { userId: string; deviceId: string; atLeast?: string; at?: string },
    options?: GrpcCallOptions,
  ): Promise<CheckResponse> {
    const answer = await this.unary('Check', request, options);
    return {
      allowed: answer.allowed === true,
      role: ROLE.fromWire(answer.role) ?? null,
      token: String(answer.token),
    };
  }

  async checkBulk(
    request: { items: Array<{ userId: string; deviceId: string }>; atLeast?: string; at?: string },
    options?: GrpcCallOptions,
  ): Promise<BulkCheckResponse> {
    const answer = await this.unary('CheckBulk', request, options);
    return {
      results: (answer.results as Wire[]).map((r) => ({
        userId: String(r.userId),
        deviceId: String(r.deviceId),
        allowed: r.allowed === true,
        role: ROLE.fromWire(r.role) ?? null,
      })),
      token: String(answer.token),
    };
  }

  /** Allowed and denied are both answers. */
  async authorize(request: AuthorizeRequest, options?: GrpcCallOptions): Promise<AuthorizeResponse> {
    const answer = await this.unary(
      'Authorize',
      {
        ...request,
        mediaType: MEDIA_TYPE.toWire(request.mediaType),
        action: VIEW_ACTION.toWire(request.action),
      },
      options,
    );
    const token = String(answer.token);
    const eventId = String(answer.eventId);
    const role = ROLE.fromWire(answer.role);
    if (answer.allowed === true && role) return { allowed: true, role, token, eventId };
    return {
      allowed: false,
      reason: DENIAL_REASON.fromWire(answer.reason) ?? 'never_granted',
      token,
      eventId,
    };
  }

  async recordViews(views: View[], options?: GrpcCallOptions): Promise<{ count: number; token: string }> {
    const answer = await this.unary(
      'RecordViews',
      {
        views: views.map((v) => ({
          ...v,
          mediaType: MEDIA_TYPE.toWire(v.mediaType),
          action: VIEW_ACTION.toWire(v.action),
        })),
      },
      options,
    );
    return { count: Number(answer.count ?? 0), token: String(answer.token) };
  }

  async deviceAccess(deviceId: string, atLeast?: string, options?: GrpcCallOptions): Promise<DeviceAccess> {
    const answer = await this.unary('GetDeviceAccess', { deviceId, atLeast }, options);
    const owner = answer.owner as Wire | undefined;
    return {
      deviceId: String(answer.deviceId),
      owner: owner ? { userId: String(owner.userId), since: String(owner.since) } : null,
      viewers: (answer.viewers as Wire[]).map((v) => ({
        userId: String(v.userId),
        role: ROLE.fromWire(v.role) ?? 'viewer',
        since: String(v.since),
        expiresAt: v.expiresAt === undefined ? null : String(v.expiresAt),
      })),
      token: String(answer.token),
    };
  }

  /**
   * Relationship changes in log order, live, as an async iterator; resume after a disconnect with
   * `after` = the token of the last change received. Breaking out of the loop (or `signal`) ends the call.
   * An `overflow` message ends the stream (resume with its `resumeAfter`); a LedgerGrpcError with
   * OUT_OF_RANGE means the token is too old: drop what is cached, read again, watch without `after`.
   */
  async *watch(
    request: { after?: string } = {},
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<WatchMessage> {
    const call = (this.client.Watch as unknown as WatchMethod)(withoutUndefined(request), this.metadata());
    const abort = () => call.cancel();
    options.signal?.addEventListener('abort', abort);
    try {
      for await (const message of call as AsyncIterable<Wire>) {
        if (message.change) {
          const change = message.change as Wire;
          const event: RelationshipChangeEvent = {
            token: String(change.token),
            type: String(change.type),
            deviceId: String(change.deviceId),
            userIds: (change.userIds as string[]) ?? [],
            occurredAt: String(change.occurredAt),
          };
          this.lastToken = event.token;
          yield { type: 'change', change: event };
        } else if (message.heartbeat) {
          yield { type: 'heartbeat', token: String((message.heartbeat as Wire).token) };
        } else if (message.overflow) {
          const overflow = message.overflow as Wire;
          yield {
            type: 'overflow',
            message: String(overflow.message),
            resumeAfter: String(overflow.resumeAfter),
          };
        }
      }
    } catch (error) {
      if (options.signal?.aborted && (error as grpc.ServiceError).code === grpc.status.CANCELLED) return;
      throw toLedgerError(error);
    } finally {
      options.signal?.removeEventListener('abort', abort);
      call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }

  private unary(method: string, request: object, options: GrpcCallOptions = {}): Promise<Wire> {
    const metadata = this.metadata();
    if (options.idempotencyKey !== undefined) metadata.set('idempotency-key', options.idempotencyKey);
    const deadline = Date.now() + (options.deadlineMs ?? this.options.deadlineMs ?? 10_000);
    return new Promise((resolve, reject) => {
      const call = this.client[method](
        withoutUndefined(request),
        metadata,
        { deadline },
        (error, response) => {
          options.signal?.removeEventListener('abort', abort);
          if (error) return reject(toLedgerError(error));
          const answer = response ?? {};
          if (typeof answer.token === 'string') this.lastToken = answer.token;
          resolve(answer);
        },
      );
      const abort = () => call.cancel();
      options.signal?.addEventListener('abort', abort);
    });
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.options.apiKey}`);
    return metadata;
  }
}

function withoutUndefined(value: object): Wire {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function toLedgerError(error: unknown): unknown {
  const serviceError = error as Partial<grpc.ServiceError>;
  if (typeof serviceError.code !== 'number') return error;
  const details = serviceError.metadata?.get(STATUS_DETAILS_KEY)[0];
  const oldest = serviceError.metadata?.get(OLDEST_RESUMABLE_TOKEN_KEY)[0];
  return new LedgerGrpcError(
    serviceError.code,
    serviceError.details ?? serviceError.message ?? '',
    details instanceof Buffer ? decodeRetryDelayMs(details) : undefined,
    typeof oldest === 'string' ? oldest : undefined,
  );
}

import { randomUUID } from 'node:crypto';
import { errorForStatus, LedgerApiError, LedgerUnavailableError } from './ledger-client.errors';
import type {
  AuthorizeRequest,
  AuthorizeResponse,
  BulkCheckResponse,
  CheckResponse,
  DecommissionRequest,
  DeviceAccess,
  GrantRequest,
  IncidentReport,
  RegisterDeviceRequest,
  ReplayRequest,
  RevokeRequest,
  TokenResponse,
  TransferRequest,
  UserDevices,
  View,
} from './ledger-client.types';

export interface LedgerClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Retries of network failures and 503s. Writes are retried under one Idempotency-Key, so never twice applied. */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly fetch?: typeof fetch;
}

export interface WriteOptions {
  /** Defaults to a fresh UUID per call when retries are enabled. */
  readonly idempotencyKey?: string;
}

/** Typed client for every route of the ledger's HTTP contract. Tokens come back on every answer. */
export class LedgerClient {
  private readonly baseUrl: string;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly fetchImpl: typeof fetch;
  /** The newest token this client has seen; pass it as `atLeast` to read your own writes. */
  lastToken: string | undefined;

  constructor(private readonly options: LedgerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.retries = options.retries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.fetchImpl = options.fetch ?? fetch;
  }

  registerDevice(body: RegisterDeviceRequest, options?: WriteOptions) {
    return this.write<{ deviceId: string; token: string }>('/v1/devices', body, options);
  }
  grant(deviceId: string, body: GrantRequest, options?: WriteOptions) {
    return this.write<TokenResponse>(`/v1/devices/${encodeURIComponent(deviceId)}/grants`, body, options);
  }
  revoke(deviceId: string, body: RevokeRequest, options?: WriteOptions) {
    return this.write<TokenResponse>(
      `/v1/devices/${encodeURIComponent(deviceId)}/revocations`,
      body,
      options,
    );
  }
  transfer(deviceId: string, body: TransferRequest, options?: WriteOptions) {
    return this.write<TokenResponse>(`/v1/devices/${encodeURIComponent(deviceId)}/transfers`, body, options);
  }
  decommission(deviceId: string, body: DecommissionRequest, options?: WriteOptions) {
    return this.write<TokenResponse>(
      `/v1/devices/${encodeURIComponent(deviceId)}/decommission`,
      body,
      options,
    );
  }
  recordView(view: View, options?: WriteOptions) {
    return this.write<{ eventId: string; token: string }>('/v1/views', view, options);
  }
  recordViews(views: View[], options?: WriteOptions) {
    return this.write<{ count: number; token: string }>('/v1/views/batch', { views }, options);
  }
  /** Allowed and denied are both answers (200 and 403 with a body), not errors. */
  authorize(body: AuthorizeRequest, options?: WriteOptions) {
    return this.write<AuthorizeResponse>('/v1/media/authorize', body, options, [403]);
  }
  deviceAccess(deviceId: string, atLeast?: string) {
    return this.read<DeviceAccess>(`/v1/devices/${encodeURIComponent(deviceId)}/access${query({ atLeast })}`);
  }
  userDevices(userId: string, atLeast?: string) {
    return this.read<UserDevices>(`/v1/users/${encodeURIComponent(userId)}/devices${query({ atLeast })}`);
  }
  check(body: { userId: string; deviceId: string; atLeast?: string; at?: string }) {
    return this.request<CheckResponse>('POST', '/v1/check', body);
  }
  checkBulk(body: { items: Array<{ userId: string; deviceId: string }>; atLeast?: string; at?: string }) {
    return this.request<BulkCheckResponse>('POST', '/v1/check/bulk', body);
  }
  /** The §4 report, with `recorded`: the replay's own `IncidentReplayed` record. */
  replay(body: ReplayRequest = {}) {
    return this.request<IncidentReport & { recorded: { eventId: string; token: string } }>(
      'POST',
      '/v1/audit/replay',
      body,
    );
  }
  /** The raw export text (NDJSON or CSV, ending with its manifest). */
  async exportTrail(filter: {
    deviceId?: string;
    userId?: string;
    from?: string;
    to?: string;
    format?: 'ndjson' | 'csv';
  }) {
    const response = await this.send('GET', `/v1/audit/trail${query(filter)}`, undefined, {});
    return response.text();
  }
  projection() {
    return this.read<{ token: string; digest: string }>('/v1/projection');
  }
  health() {
    return this.request<{ status: string; token: string }>('GET', '/health');
  }

  private read<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  private write<T>(
    path: string,
    body: unknown,
    options?: WriteOptions,
    okStatuses: number[] = [],
  ): Promise<T> {
    const key = options?.idempotencyKey ?? (this.retries > 0 ? randomUUID() : undefined);
    return this.request<T>(
      'POST',
      path,
      body,
      key === undefined ? {} : { 'idempotency-key': key },
      okStatuses,
    );
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    okStatuses: number[] = [],
  ): Promise<T> {
    const response = await this.send(method, path, body, headers, okStatuses);
    const parsed = (await response.json()) as T & { token?: string };
    if (typeof parsed.token === 'string') this.lastToken = parsed.token;
    return parsed;
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    okStatuses: number[] = [],
  ): Promise<Response> {
    // Reads are always safe to repeat; writes only when an Idempotency-Key makes the repeat a no-op.
    const retryable =
      method === 'GET' ||
      headers['idempotency-key'] !== undefined ||
      path === '/v1/check' ||
      path === '/v1/check/bulk';
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchImpl(`${this.baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.options.apiKey}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (error) {
        if (!retryable || attempt >= this.retries) throw error;
        await delay(this.retryDelayMs * (attempt + 1));
        continue;
      }
      if (response.ok || okStatuses.includes(response.status)) return response;
      const payload = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
      const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
      const error = errorForStatus(
        response.status,
        payload.error ?? response.statusText,
        payload.message ?? `HTTP ${response.status}`,
        Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
      if (error instanceof LedgerUnavailableError && retryable && attempt < this.retries) {
        await delay((error.retryAfterSeconds ?? this.retryDelayMs / 1000) * 1000);
        continue;
      }
      throw error;
    }
  }
}

function query(params: Record<string, string | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { LedgerApiError };

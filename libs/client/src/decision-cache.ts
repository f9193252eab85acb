import type { LedgerClient } from './ledger-client';
import type { RelationshipChangeEvent, Role } from './ledger-client.types';

export interface DecisionCacheOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Delay before reconnecting a dropped feed. */
  readonly reconnectDelayMs?: number;
  readonly fetch?: typeof fetch;
}

interface Entry {
  readonly allowed: boolean;
  readonly role: Role | null;
}

/**
 * The safe cache pattern the watch feed enables, as a library:
 * - entries are keyed by the full (user, device) pair — never by device or user alone, which is how the
 *   incident's cache mixed mappings up;
 * - every change to a device drops every cached pair of that device, as the feed delivers it (in log order,
 *   resumed from the last token after a disconnect, so no change is missed);
 * - an answer fetched while a change to its device arrived is not cached (per-device version check);
 * - a request that demands a token (`atLeast`) is never served from the cache: it goes to the ledger.
 * While the feed is down the cache serves nothing and asks the ledger every time.
 */
export class DecisionCache {
  private readonly entries = new Map<string, Map<string, Entry>>();
  private readonly versions = new Map<string, number>();
  private lastToken: string | undefined;
  private abort: AbortController | null = null;
  private connected = false;
  private stopped = false;
  private readonly fetchImpl: typeof fetch;
  /** Resolves once the feed is connected (first connection). */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    private readonly client: LedgerClient,
    private readonly options: DecisionCacheOptions,
  ) {
    this.fetchImpl = options.fetch ?? fetch;
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  get size(): number {
    let n = 0;
    for (const users of this.entries.values()) n += users.size;
    return n;
  }

  /** Starts following the feed from now; call once. */
  start(): this {
    void this.follow();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.entries.clear();
  }

  async check(
    userId: string,
    deviceId: string,
    options: { atLeast?: string } = {},
  ): Promise<Entry & { cached: boolean }> {
    if (options.atLeast === undefined && this.connected) {
      const hit = this.entries.get(deviceId)?.get(userId);
      if (hit) return { ...hit, cached: true };
    }
    const versionBefore = this.versions.get(deviceId) ?? 0;
    const wasConnected = this.connected;
    const answer = await this.client.check({ userId, deviceId, atLeast: options.atLeast });
    const entry: Entry = { allowed: answer.allowed, role: answer.role };
    if (wasConnected && this.connected && (this.versions.get(deviceId) ?? 0) === versionBefore) {
      let users = this.entries.get(deviceId);
      if (!users) this.entries.set(deviceId, (users = new Map()));
      users.set(userId, entry);
    }
    return { ...entry, cached: false };
  }

  private invalidate(change: RelationshipChangeEvent): void {
    this.versions.set(change.deviceId, (this.versions.get(change.deviceId) ?? 0) + 1);
    this.entries.delete(change.deviceId);
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      this.abort = new AbortController();
      try {
        const query = this.lastToken === undefined ? '' : `?after=${encodeURIComponent(this.lastToken)}`;
        const response = await this.fetchImpl(
          `${this.options.baseUrl.replace(/\/+$/, '')}/v1/watch${query}`,
          {
            headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'text/event-stream' },
            signal: this.abort.signal,
          },
        );
        // 410: the token is too old to replay. Entries are dropped on every disconnect anyway, so the resync is
        // a fresh feed from now; answers are asked of the ledger again as they are needed.
        if (response.status === 410) this.lastToken = undefined;
        if (!response.ok || !response.body) throw new Error(`watch feed answered ${response.status}`);
        this.connected = true;
        this.markReady();
        await this.consume(response.body);
      } catch {
        // fall through to reconnect
      }
      // Nothing cached while disconnected could be trusted afterwards.
      this.connected = false;
      this.entries.clear();
      if (!this.stopped)
        await new Promise((resolve) => setTimeout(resolve, this.options.reconnectDelayMs ?? 500));
    }
  }

  private async consume(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let id: string | undefined;
        let data = '';
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = text;
          else if (field === 'id') id = text;
          else if (field === 'data') data += text;
        }
        if (event === 'change' && data) {
          this.invalidate(JSON.parse(data) as RelationshipChangeEvent);
          if (id) this.lastToken = id;
        } else if (event === 'heartbeat' && data) {
          const token = (JSON.parse(data) as { token?: string }).token;
          if (token && this.lastToken === undefined) this.lastToken = token;
        }
      }
    }
  }
}

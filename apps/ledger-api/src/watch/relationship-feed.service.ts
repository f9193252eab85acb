import type { ServerResponse } from 'node:http';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { LedgerConfig } from '@ledger/config';
import { Streams } from '@ledger/domain';
import {
  comparePositions,
  positionToToken,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from '@ledger/event-store';
import { LiveProjection, isDeviceEvent, type PositionedChange } from '@ledger/projections';
import { EVENT_STORE, LEDGER_CONFIG } from '../ledger.providers';
import { RecentChanges } from './recent-changes';

export const HEARTBEAT_MS = 15_000;
/** History is read and written this many events at a time, the next page only once the socket drained. */
const HISTORY_PAGE = 256;
/** How long an ended feed may take to flush before its socket is destroyed (a client that never reads). */
const END_GRACE_MS = 2_000;
const DEVICE_FILTER = { streamPrefixes: [Streams.devicePrefix] };

/** A resume token too old to replay: the client must resync from a fresh read. */
export class WatchTokenTooOldError extends Error {
  constructor(readonly oldestToken: string) {
    super(
      `this token is too old to resume from: the feed replays at most the last changes (the oldest resumable token is ${oldestToken}). ` +
        'Resync: drop the cache, read what you need again (GET /v1/devices/{deviceId}/access, GET /v1/users/{userId}/devices) ' +
        'and open a fresh GET /v1/watch without after or Last-Event-ID (gRPC: Watch without after)',
    );
    this.name = 'WatchTokenTooOldError';
  }
}

/** An API key already holds as many watch connections as allowed. */
export class WatchConnectionLimitError extends Error {
  constructor(
    readonly keyName: string,
    readonly limit: number,
  ) {
    super(
      `API key ${keyName} already has ${limit} open watch connections (LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY); close one or retry later`,
    );
    this.name = 'WatchConnectionLimitError';
  }
}

export interface WatchLimits {
  readonly maxConnectionsPerKey: number;
  readonly maxBufferedEvents: number;
  readonly maxResumeChanges: number;
}

/** One message of the feed, whatever carries it (SSE, or a gRPC server stream: grpc/grpc-feed-sink.ts). */
export interface FeedMessage {
  /** `overflow` and `error` are final: they say why the feed ends and how to resume. */
  readonly type: 'change' | 'heartbeat' | 'overflow' | 'error';
  readonly id?: string;
  readonly data: object;
}

/**
 * Where a feed writes: any transport with a bounded buffer it reports, like a Node Writable
 * (`writableNeedDrain` and 'drain'). The feed writes the next page of history only once `full` is false again.
 */
export interface FeedSink {
  /** The first write: the transport says the feed is open (SSE: headers and a comment). */
  open(): void;
  write(message: FeedMessage): void;
  readonly full: boolean;
  /** Calls `listener` once the buffer drained or the consumer went away. */
  whenDrained(listener: () => void): void;
  /**
   * Calls `listener` once when the transport is done: the consumer went away, or what was written after
   * `end()` was delivered (or cut off). The API key's connection slot is held until then, so what a transport
   * still buffers after its feed ended counts against the key's limit.
   */
  whenClosed(listener: () => void): void;
  /** Ends the feed (after a final message, or at shutdown); a consumer that never reads is cut off. */
  end(): void;
}

/** SSE over a raw HTTP response. */
export class SseSink implements FeedSink {
  constructor(private readonly response: ServerResponse) {}

  open(): void {
    const socket = this.response.socket;
    socket?.setKeepAlive(true);
    socket?.setNoDelay(true);
    socket?.setTimeout(0);
    this.response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.response.write(': connected\n\n');
  }

  write(message: FeedMessage): void {
    const id = message.id === undefined ? '' : `id: ${message.id}\n`;
    this.response.write(`event: ${message.type}\n${id}data: ${JSON.stringify(message.data)}\n\n`);
  }

  get full(): boolean {
    return this.response.writableNeedDrain;
  }

  whenDrained(listener: () => void): void {
    const done = (): void => {
      this.response.off('drain', done);
      this.response.off('close', done);
      listener();
    };
    this.response.on('drain', done);
    this.response.on('close', done);
  }

  whenClosed(listener: () => void): void {
    if (this.response.destroyed || this.response.socket?.destroyed) {
      queueMicrotask(listener);
      return;
    }
    this.response.once('close', listener);
  }

  end(): void {
    this.response.end();
    const timer = setTimeout(() => this.response.destroy(), END_GRACE_MS);
    timer.unref();
    this.response.once('close', () => clearTimeout(timer));
  }
}

/**
 * The change feed for caches: history read from the store after the client's token, a page at a time and only
 * as fast as the client reads it, then the projection's live changes, in log order with no gap or repeat
 * between the two. Per connection it holds one page of history or at most `maxBufferedEvents` live changes.
 */
@Injectable()
export class RelationshipFeed implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RelationshipFeed');
  private readonly limits: WatchLimits;
  private readonly recent: RecentChanges;
  private recentReady: Promise<void> = Promise.resolve();
  private recentSubscription: Subscription | null = null;
  private readonly connections = new Set<FeedConnection>();
  private readonly perKey = new Map<string, number>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projection: LiveProjection,
    @Inject(LEDGER_CONFIG) config: LedgerConfig,
  ) {
    this.limits = config.watch;
    this.recent = new RecentChanges(this.limits.maxResumeChanges);
  }

  /** Learns the positions of the last changes (one backwards read), then keeps them up to date. */
  onApplicationBootstrap(): void {
    const live: LogPosition[] = [];
    let filling = true;
    const from = this.projection.position;
    this.recentSubscription = this.projection.changes.subscribe((change) => {
      if (filling) live.push(change.position);
      else this.recent.push(change.position);
    });
    this.recentReady = this.readRecentBackwards(from)
      .catch((error: unknown) => {
        // Without the history of positions, no resume can be bounded: refuse old tokens rather than guess.
        this.logger.error(`could not read the recent changes: ${(error as Error).message}`);
        this.recent.markIncomplete();
      })
      .finally(() => {
        filling = false;
        for (const position of live) this.recent.push(position);
      });
  }

  private async readRecentBackwards(upTo: LogPosition): Promise<void> {
    const positions: LogPosition[] = [];
    let from: LogPosition | 'end' = 'end';
    for (;;) {
      const page = await this.store.readAll({
        from,
        direction: 'backwards',
        maxCount: 1000,
        filter: DEVICE_FILTER,
      });
      for (const event of page.events) {
        if (!isDeviceEvent(event) || comparePositions(event.position, upTo) > 0) continue;
        positions.push(event.position);
        if (positions.length > this.recent.capacity) break;
      }
      // One more than the ring holds: older changes exist, so the oldest kept one bounds every resume.
      if (positions.length > this.recent.capacity) {
        positions.pop();
        this.recent.markIncomplete();
        break;
      }
      if (page.isEnd || page.events.length === 0 || page.next === 'end') break;
      from = page.next;
    }
    for (let i = positions.length - 1; i >= 0; i--) this.recent.push(positions[i]);
  }

  /**
   * Checks a new feed against the limits (throws WatchConnectionLimitError or WatchTokenTooOldError before
   * anything is written), then streams it to `response` as SSE until the client goes, overflows, or shutdown.
   * `takeOver` is called once the feed is admitted, before the first byte (Fastify's `reply.hijack()`).
   */
  async open(
    response: ServerResponse,
    keyName: string,
    after: LogPosition | null,
    takeOver: () => void,
  ): Promise<void> {
    await this.openSink(new SseSink(response), keyName, after, takeOver);
  }

  /** The same for any transport that reports a full buffer (a gRPC server stream: GrpcFeedSink). */
  async openSink(
    sink: FeedSink,
    keyName: string,
    after: LogPosition | null,
    takeOver: () => void = () => undefined,
    heartbeatMs = HEARTBEAT_MS,
  ): Promise<void> {
    const held = this.perKey.get(keyName) ?? 0;
    if (held >= this.limits.maxConnectionsPerKey)
      throw new WatchConnectionLimitError(keyName, this.limits.maxConnectionsPerKey);
    if (after) {
      await this.recentReady;
      if (!this.recent.canResumeAfter(after))
        throw new WatchTokenTooOldError(positionToToken(this.recent.oldest()!));
    }
    // Checked again after the wait: the count is what bounds memory, so it must never be overshot.
    const now = this.perKey.get(keyName) ?? 0;
    if (now >= this.limits.maxConnectionsPerKey)
      throw new WatchConnectionLimitError(keyName, this.limits.maxConnectionsPerKey);
    this.perKey.set(keyName, now + 1);
    let released = false;
    sink.whenClosed(() => {
      if (released) return;
      released = true;
      const left = (this.perKey.get(keyName) ?? 1) - 1;
      if (left > 0) this.perKey.set(keyName, left);
      else this.perKey.delete(keyName);
    });
    const connection = new FeedConnection(sink, this.store, this.projection, this.limits, after, () =>
      this.connections.delete(connection),
    );
    this.connections.add(connection);
    takeOver();
    connection.start(heartbeatMs);
  }

  /** Open feeds right now (for tests and metrics). */
  get openConnections(): number {
    return this.connections.size;
  }

  beforeApplicationShutdown(): void {
    this.recentSubscription?.unsubscribe();
    for (const connection of [...this.connections]) connection.end();
  }
}

/** One client's feed: a state machine over its sink, driven by drain and the projection's changes. */
class FeedConnection {
  /** Every change up to here was written to the client (or is before its resume token). */
  private delivered: LogPosition;
  private readonly pending: PositionedChange[] = [];
  private live: Subscription | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;
  private waitingForDrain = false;

  constructor(
    private readonly sink: FeedSink,
    private readonly store: EventStore,
    private readonly projection: LiveProjection,
    private readonly limits: WatchLimits,
    after: LogPosition | null,
    private readonly onClosed: () => void,
  ) {
    this.delivered = after ?? projection.position;
  }

  start(heartbeatMs: number): void {
    this.sink.whenClosed(() => this.close());
    this.sink.open();
    this.heartbeat = setInterval(() => this.writeHeartbeat(), heartbeatMs);
    this.replayHistory().catch((error: unknown) => {
      this.writeFinal('error', {
        message: `the feed failed while reading history (${(error as Error).message}); reconnect with after=${positionToToken(this.delivered)}`,
        resumeAfter: positionToToken(this.delivered),
      });
    });
  }

  /**
   * Pages of history from the store, each written only once the sink has drained, until the reading caught
   * up with the projection; then, in the same tick, the live subscription takes over from that point.
   */
  private async replayHistory(): Promise<void> {
    let cursor = this.delivered;
    for (;;) {
      if (this.closed) return;
      const projected = this.projection.position;
      if (comparePositions(cursor, projected) >= 0) {
        this.goLive();
        return;
      }
      const page = await this.store.readAll({
        from: cursor,
        direction: 'forwards',
        maxCount: HISTORY_PAGE,
        filter: DEVICE_FILTER,
      });
      if (this.closed) return;
      for (const event of page.events) {
        const change = this.describe(event);
        if (change) this.write(change);
        cursor = event.position;
      }
      // Read to the end: every device change up to what the projection had applied before the read is out.
      if (page.isEnd || page.events.length === 0) {
        if (comparePositions(projected, cursor) > 0) cursor = projected;
      } else if (page.next !== 'end' && comparePositions(page.next, cursor) > 0) cursor = page.next;
      if (comparePositions(cursor, this.delivered) > 0) this.delivered = cursor;
      if (this.sink.full && !this.closed)
        await new Promise<void>((resolve) => this.sink.whenDrained(resolve));
    }
  }

  private goLive(): void {
    this.live = this.projection.changes.subscribe({
      next: (change) => this.enqueue(change),
      complete: () => this.end(),
    });
  }

  private enqueue(change: PositionedChange): void {
    if (this.closed || comparePositions(change.position, this.delivered) <= 0) return;
    this.pending.push(change);
    if (this.pending.length > this.limits.maxBufferedEvents) {
      this.pending.length = 0;
      const resumeAfter = positionToToken(this.delivered);
      this.writeFinal('overflow', {
        message:
          `this client fell more than ${this.limits.maxBufferedEvents} changes behind (LEDGER_WATCH_MAX_BUFFERED_EVENTS) and was disconnected. ` +
          `Resume with GET /v1/watch?after=${resumeAfter} (gRPC: Watch with after = that token; history is then read at your pace); ` +
          'if that answers 410, drop the cache and resync from GET /v1/devices/{deviceId}/access and a fresh watch',
        resumeAfter,
      });
      return;
    }
    this.flush();
  }

  private flush(): void {
    while (this.pending.length > 0 && !this.closed) {
      if (this.sink.full) {
        if (!this.waitingForDrain) {
          this.waitingForDrain = true;
          this.sink.whenDrained(() => {
            this.waitingForDrain = false;
            this.flush();
          });
        }
        return;
      }
      const change = this.pending.shift()!;
      this.write(change);
      this.delivered = change.position;
    }
  }

  private write(change: PositionedChange): void {
    this.sink.write({
      type: 'change',
      id: change.token,
      data: {
        token: change.token,
        type: change.type,
        deviceId: change.deviceId,
        userIds: change.userIds,
        occurredAt: change.occurredAt,
      },
    });
  }

  private writeHeartbeat(): void {
    // A heartbeat behind a full buffer says nothing new; it would only grow the buffer.
    if (this.closed || this.sink.full) return;
    this.sink.write({ type: 'heartbeat', data: { token: positionToToken(this.delivered) } });
  }

  /** A last message saying why the feed ends and how to go on, then the end. */
  private writeFinal(type: 'overflow' | 'error', data: object): void {
    if (this.closed) return;
    this.sink.write({ type, data });
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.close();
    this.sink.end();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.live?.unsubscribe();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.pending.length = 0;
    this.onClosed();
  }

  /** Past changes name every user the device ever had: a superset, which is safe for invalidation. */
  private describe(event: RecordedEvent): PositionedChange | null {
    if (!isDeviceEvent(event)) return null;
    const data = event.data as Record<string, unknown>;
    const deviceId = String(data.deviceId);
    const users = new Set<string>();
    for (const key of ['ownerId', 'userId', 'previousOwnerId', 'newOwnerId']) {
      if (typeof data[key] === 'string') users.add(data[key] as string);
    }
    if (
      event.type === 'DeviceDecommissioned' ||
      (event.type === 'OwnershipTransferred' && data.keepViewers !== true)
    ) {
      for (const userId of this.projection.table.timeline(deviceId)?.access.keys() ?? []) users.add(userId);
    }
    return {
      type: event.type as PositionedChange['type'],
      deviceId,
      userIds: [...users],
      occurredAt: String(data.occurredAt),
      position: event.position,
      token: positionToToken(event.position),
    };
  }
}

import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import {
  concat,
  defer,
  filter,
  from,
  interval,
  map,
  merge,
  Observable,
  ReplaySubject,
  Subject,
  takeUntil,
} from 'rxjs';
import {
  comparePositions,
  positionToToken,
  readAllPages,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from '@ledger/event-store';
import { LiveProjection, isDeviceEvent, type PositionedChange } from '@ledger/projections';
import { EVENT_STORE } from '../ledger.providers';

export interface FeedMessage {
  readonly type: 'change' | 'heartbeat';
  readonly id?: string;
  readonly data: object;
}

export const HEARTBEAT_MS = 15_000;

/**
 * The change feed for caches: history from the store after the client's token, then the projection's live
 * changes, in log order with no gap between the two (live changes are buffered while history is read).
 */
@Injectable()
export class RelationshipFeed implements BeforeApplicationShutdown {
  /** Ends every open feed, so a graceful shutdown is not held open by long-lived SSE connections. */
  private readonly shuttingDown = new Subject<void>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projection: LiveProjection,
  ) {}

  watch(
    after: LogPosition | null,
    closed: Observable<unknown>,
    heartbeatMs = HEARTBEAT_MS,
  ): Observable<FeedMessage> {
    return defer(() => {
      const live = new ReplaySubject<PositionedChange>();
      const liveSubscription = this.projection.changes.subscribe(live);
      const caughtUpTo = this.projection.position;
      const start = after ?? caughtUpTo;
      let last = start;
      const history = from(this.readHistory(start, caughtUpTo));
      const changes = concat(history, live).pipe(
        filter((change) => {
          if (comparePositions(change.position, last) <= 0) return false;
          last = change.position;
          return true;
        }),
        map((change): FeedMessage => ({ type: 'change', id: change.token, data: toWire(change) })),
      );
      const heartbeats = interval(heartbeatMs).pipe(
        map((): FeedMessage => ({ type: 'heartbeat', data: { token: positionToToken(last) } })),
      );
      const stop = new Subject<void>();
      closed.subscribe({ next: () => stop.next(), complete: () => stop.next() });
      const shutdown = this.shuttingDown.subscribe(() => stop.next());
      return new Observable<FeedMessage>((subscriber) => {
        const inner = merge(changes, heartbeats).pipe(takeUntil(stop)).subscribe(subscriber);
        return () => {
          inner.unsubscribe();
          shutdown.unsubscribe();
          liveSubscription.unsubscribe();
        };
      });
    });
  }

  beforeApplicationShutdown(): void {
    this.shuttingDown.next();
  }

  private async *readHistory(after: LogPosition, upTo: LogPosition): AsyncGenerator<PositionedChange> {
    const pages = readAllPages(this.store, {
      from: after,
      upTo,
      filter: { streamPrefixes: ['device-'] },
      pageSize: 1000,
    });
    for await (const page of pages) {
      for (const event of page) {
        const change = this.describe(event);
        if (change) yield change;
      }
    }
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

function toWire(change: PositionedChange): object {
  return {
    token: change.token,
    type: change.type,
    deviceId: change.deviceId,
    userIds: change.userIds,
    occurredAt: change.occurredAt,
  };
}

import {
  formatTime,
  Streams,
  viewShardFor,
  type DenialReason,
  type DeviceEvent,
  type MediaType,
  type Millis,
  type ViewAction,
} from '@ledger/domain';
import type { EventStore, JsonObject, NewEvent } from '@ledger/event-store';

export interface HistoryItem {
  readonly stream: string;
  readonly event: NewEvent;
}

/** Deterministic UUIDs, so two stores built from one history hold identical events. */
export function fixtureEventId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export interface ViewOptions {
  readonly mediaType?: MediaType;
  readonly action?: ViewAction;
  readonly mediaId?: string;
}

/**
 * Hand-built ledger histories for tests: ownership events exactly as the decider would have written them,
 * views, refusals. Items are kept in order and appended with `appendTo`, optionally in another order.
 */
export class HistoryBuilder {
  readonly items: HistoryItem[] = [];
  private sequence = 0;

  constructor(private readonly firstId = 1) {}

  register(deviceId: string, ownerId: string, at: Millis): this {
    return this.change({ type: 'DeviceRegistered', data: { ...this.base(deviceId, at), ownerId } });
  }

  grant(deviceId: string, userId: string, at: Millis, expiresAt?: Millis): this {
    return this.change({
      type: 'AccessGranted',
      data: {
        ...this.base(deviceId, at),
        userId,
        ...(expiresAt === undefined ? {} : { expiresAt: formatTime(expiresAt) }),
      },
    });
  }

  revoke(deviceId: string, userId: string, at: Millis): this {
    return this.change({ type: 'AccessRevoked', data: { ...this.base(deviceId, at), userId } });
  }

  transfer(
    deviceId: string,
    previousOwnerId: string,
    newOwnerId: string,
    at: Millis,
    keepViewers = false,
  ): this {
    return this.change({
      type: 'OwnershipTransferred',
      data: { ...this.base(deviceId, at), previousOwnerId, newOwnerId, keepViewers },
    });
  }

  decommission(deviceId: string, at: Millis): this {
    return this.change({ type: 'DeviceDecommissioned', data: this.base(deviceId, at) });
  }

  /** Appends a ready-made device event (e.g. one the decider produced). */
  change(event: DeviceEvent): this {
    this.items.push({
      stream: Streams.device(event.data.deviceId),
      event: { eventId: this.nextId(), type: event.type, data: event.data as unknown as JsonObject },
    });
    return this;
  }

  /** Records a view; returns its event id. */
  view(viewerId: string, deviceId: string, at: Millis, options: ViewOptions = {}): string {
    const eventId = this.nextId();
    this.items.push({
      stream: Streams.views(viewShardFor(deviceId)),
      event: {
        eventId,
        type: 'MediaViewed',
        data: {
          viewerId,
          deviceId,
          mediaId: options.mediaId ?? `m-${deviceId}-${at}`,
          mediaType: options.mediaType ?? 'thumbnail',
          action: options.action ?? 'delivered',
          occurredAt: formatTime(at),
          recordedAt: formatTime(at),
        },
      },
    });
    return eventId;
  }

  /** A refusal by the verification layer: nothing was served. */
  denied(viewerId: string, deviceId: string, at: Millis, reason: DenialReason = 'never_granted'): string {
    const eventId = this.nextId();
    this.items.push({
      stream: Streams.views(viewShardFor(deviceId)),
      event: {
        eventId,
        type: 'MediaAccessDenied',
        data: {
          viewerId,
          deviceId,
          mediaId: `m-${deviceId}-${at}`,
          mediaType: 'thumbnail',
          action: 'opened',
          reason,
          occurredAt: formatTime(at),
          recordedAt: formatTime(at),
        },
      },
    });
    return eventId;
  }

  /** Appends the items one request each, in `order` (indices into `items`) or as built. */
  async appendTo(store: EventStore, order?: readonly number[]): Promise<void> {
    const indices = order ?? this.items.map((_, i) => i);
    for (const index of indices) {
      const { stream, event } = this.items[index];
      await store.append({ stream, events: [event], expectedRevision: 'any' });
    }
  }

  private nextId(): string {
    return fixtureEventId(this.firstId + this.sequence++);
  }

  private base(deviceId: string, at: Millis) {
    return { deviceId, actor: 'svc:test', occurredAt: formatTime(at), recordedAt: formatTime(at) };
  }
}

import {
  applyDeviceEvent,
  cloneTimeline,
  ContendedChangeError,
  decide,
  DomainError,
  formatTime,
  Streams,
  toDeviceEvent,
  viewShardFor,
  type DeviceCommand,
  type DeviceState,
  type MediaViewed,
  type Millis,
} from '@ledger/domain';
import {
  comparePositions,
  ConcurrencyError,
  InvalidAppendError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type JsonObject,
  type LogPosition,
  type NewEvent,
} from '@ledger/event-store';
import type { OwnershipLine, ViewLine } from './import-line';
import {
  ACCEPTED,
  rejected,
  SKIPPED,
  type LedgerWriter,
  type LineOutcome,
  type NumberedLine,
} from './ledger-writer';

export interface StoreLedgerWriterOptions {
  /** The ledger's clock: record time, and business time of changes that give none. */
  readonly now?: () => Millis;
  /** Devices whose folded state is kept between batches (default 100,000). */
  readonly maxCachedDevices?: number;
  /** Re-reads and re-decides after a concurrent change this many times before giving up (default 5). */
  readonly maxRetries?: number;
}

interface DeviceEntry {
  state: DeviceState;
  /** Revision of the stream's last event; null when the stream does not exist. */
  revision: bigint | null;
  /** Ids of the events in the stream: an import line whose id is here was imported before. */
  readonly eventIds: Set<string>;
}

/**
 * Writes import lines straight to the event store. Ownership lines: the device's history is folded, each
 * line decided by the domain decider and appended with the expected revision (re-decided on a concurrent
 * change). Views: appended to their shard stream with `'any'`, one request per shard per batch.
 */
export class StoreLedgerWriter implements LedgerWriter {
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly now: () => Millis;
  private readonly maxCachedDevices: number;
  private readonly maxRetries: number;
  /** Head before this writer's first view append: views at or before it were stored by an earlier run. */
  private baseline: LogPosition | null = null;

  constructor(
    private readonly store: EventStore,
    options: StoreLedgerWriterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.maxCachedDevices = options.maxCachedDevices ?? 100_000;
    this.maxRetries = options.maxRetries ?? 5;
  }

  async applyOwnershipLines(batch: readonly NumberedLine<OwnershipLine>[]): Promise<LineOutcome[]> {
    const byDevice = new Map<string, number[]>();
    batch.forEach((item, index) => {
      const list = byDevice.get(item.input.deviceId);
      if (list) list.push(index);
      else byDevice.set(item.input.deviceId, [index]);
    });
    const outcomes = new Array<LineOutcome>(batch.length);
    await Promise.all(
      [...byDevice].map(async ([deviceId, indices]) => {
        const results = await this.applyToDevice(
          deviceId,
          indices.map((i) => batch[i]),
        );
        results.forEach((outcome, k) => (outcomes[indices[k]] = outcome));
      }),
    );
    return outcomes;
  }

  async appendViews(batch: readonly NumberedLine<ViewLine>[]): Promise<LineOutcome[]> {
    if (batch.length === 0) return [];
    this.baseline ??= await this.store.headPosition();
    const recordedAt = formatTime(this.now());
    const byShard = new Map<number, number[]>();
    batch.forEach((item, index) => {
      const shard = viewShardFor(item.input.deviceId);
      const list = byShard.get(shard);
      if (list) list.push(index);
      else byShard.set(shard, [index]);
    });
    const groups = [...byShard];
    const requests: AppendRequest[] = groups.map(([shard, indices]) => ({
      stream: Streams.views(shard),
      expectedRevision: 'any',
      events: indices.map((i) => viewEvent(batch[i], recordedAt)),
    }));
    const results = await this.store.appendMany(requests);
    const outcomes = new Array<LineOutcome>(batch.length);
    for (let g = 0; g < groups.length; g++) {
      const indices = groups[g][1];
      const result = results[g];
      if (result instanceof Error) {
        if (!(result instanceof InvalidAppendError)) throw result;
        // Some of these ids are stored and some not (an earlier run batched differently): one by one.
        const single = await this.appendOneByOne(requests[g]);
        single.forEach((outcome, k) => (outcomes[indices[k]] = outcome));
      } else {
        this.classify(result).forEach((outcome, k) => (outcomes[indices[k]] = outcome));
      }
    }
    return outcomes;
  }

  private async appendOneByOne(request: AppendRequest): Promise<LineOutcome[]> {
    const outcomes: LineOutcome[] = [];
    for (const event of request.events) {
      try {
        const result = await this.store.append({ ...request, events: [event] });
        outcomes.push(...this.classify(result));
      } catch (error) {
        if (!(error instanceof InvalidAppendError)) throw error;
        outcomes.push(rejected(error.message));
      }
    }
    return outcomes;
  }

  /** An idempotent retry answers with the stored events' positions, which lie at or before the baseline. */
  private classify(result: AppendResult): LineOutcome[] {
    const baseline = this.baseline;
    return result.positions.map((position) =>
      baseline !== null && comparePositions(position, baseline) <= 0 ? SKIPPED : ACCEPTED,
    );
  }

  /**
   * Decides a device's lines against its history and appends what they change with the expected revision.
   * The append is what proves the history was current: when it fails on a concurrent change the lines are
   * decided again on a fresh read. A batch that appends nothing proves nothing, so rejections decided on a
   * remembered (possibly stale) history are decided again on a fresh read before they are reported.
   */
  private async applyToDevice(
    deviceId: string,
    lines: readonly NumberedLine<OwnershipLine>[],
  ): Promise<LineOutcome[]> {
    for (let attempt = 0; ; attempt++) {
      const { entry, fresh } = await this.load(deviceId);
      let state: DeviceState = entry.state ? cloneTimeline(entry.state) : null;
      const outcomes: LineOutcome[] = [];
      const events: NewEvent[] = [];
      for (const item of lines) {
        if (entry.eventIds.has(item.eventId)) {
          outcomes.push(SKIPPED);
          continue;
        }
        try {
          const [event] = decide(toCommand(item.input, this.now()), state);
          state = applyDeviceEvent(state, event);
          events.push({ eventId: item.eventId, type: event.type, data: event.data as unknown as JsonObject });
          outcomes.push(ACCEPTED);
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          outcomes.push(rejected(error.message));
        }
      }
      if (events.length === 0) {
        if (!fresh && outcomes.some((outcome) => outcome.status === 'rejected')) {
          this.devices.delete(deviceId);
          continue;
        }
        return outcomes;
      }
      try {
        const result = await this.store.append({
          stream: Streams.device(deviceId),
          events,
          expectedRevision: entry.revision ?? 'no_stream',
        });
        entry.state = state;
        entry.revision = result.nextExpectedRevision;
        for (const event of events) entry.eventIds.add(event.eventId);
        return outcomes;
      } catch (error) {
        this.devices.delete(deviceId);
        // A stale history shows as a concurrency error, or (when another run of this import stored some of
        // these ids meanwhile) as an append that is neither new nor a retry: read again either way.
        const stale = error instanceof ConcurrencyError || (error instanceof InvalidAppendError && !fresh);
        if (stale && attempt < this.maxRetries) continue;
        if (error instanceof ConcurrencyError) {
          const contended = rejected(new ContendedChangeError(deviceId).message);
          return outcomes.map((outcome) => (outcome.status === 'accepted' ? contended : outcome));
        }
        if (error instanceof InvalidAppendError) {
          const refused = rejected(error.message);
          return outcomes.map((outcome) => (outcome.status === 'accepted' ? refused : outcome));
        }
        throw error;
      }
    }
  }

  /** The device's history, remembered or (`fresh`) just read from the store. */
  private async load(deviceId: string): Promise<{ entry: DeviceEntry; fresh: boolean }> {
    const cached = this.devices.get(deviceId);
    if (cached) {
      // Most recently used last, so eviction takes the least recently used.
      this.devices.delete(deviceId);
      this.devices.set(deviceId, cached);
      return { entry: cached, fresh: false };
    }
    const recorded = await this.store.readStream(Streams.device(deviceId));
    let state: DeviceState = null;
    const eventIds = new Set<string>();
    for (const event of recorded) {
      eventIds.add(event.eventId);
      const deviceEvent = toDeviceEvent(event);
      if (deviceEvent) state = applyDeviceEvent(state, deviceEvent);
    }
    const entry: DeviceEntry = {
      state,
      revision: recorded.length > 0 ? recorded[recorded.length - 1].revision : null,
      eventIds,
    };
    if (this.devices.size >= this.maxCachedDevices) {
      const oldest = this.devices.keys().next().value;
      if (oldest !== undefined) this.devices.delete(oldest);
    }
    this.devices.set(deviceId, entry);
    return { entry, fresh: true };
  }
}

function toCommand(line: OwnershipLine, recordedAt: Millis): DeviceCommand {
  const base = {
    deviceId: line.deviceId,
    actor: line.actor,
    ...(line.reason === undefined ? {} : { reason: line.reason }),
    occurredAt: line.occurredAt ?? recordedAt,
    recordedAt,
  };
  switch (line.op) {
    case 'register':
      return {
        type: 'RegisterDevice',
        data: { ...base, ownerId: line.ownerId, ...(line.model === undefined ? {} : { model: line.model }) },
      };
    case 'grant':
      return {
        type: 'GrantAccess',
        data: {
          ...base,
          userId: line.userId,
          ...(line.expiresAt === undefined ? {} : { expiresAt: line.expiresAt }),
        },
      };
    case 'revoke':
      return { type: 'RevokeAccess', data: { ...base, userId: line.userId } };
    case 'transfer':
      return {
        type: 'TransferOwnership',
        data: { ...base, newOwnerId: line.newOwnerId, keepViewers: line.keepViewers },
      };
    case 'decommission':
      return { type: 'DecommissionDevice', data: base };
    default: {
      const unreachable: never = line;
      throw new Error(`unknown op ${(unreachable as OwnershipLine).op}`);
    }
  }
}

function viewEvent(item: NumberedLine<ViewLine>, recordedAt: string): NewEvent {
  const view = item.input;
  const data: MediaViewed['data'] = {
    viewerId: view.viewerId,
    deviceId: view.deviceId,
    mediaId: view.mediaId,
    mediaType: view.mediaType,
    action: view.action,
    ...(view.servedBy === undefined ? {} : { servedBy: view.servedBy }),
    ...(view.decisionToken === undefined ? {} : { decisionToken: view.decisionToken }),
    occurredAt: formatTime(view.occurredAt),
    recordedAt,
  };
  return { eventId: item.eventId, type: 'MediaViewed', data: data as unknown as JsonObject };
}

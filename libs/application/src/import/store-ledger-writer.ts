import {
  applyDeviceEvent,
  ContendedChangeError,
  decide,
  DomainError,
  formatTime,
  Streams,
  viewShardFor,
  type DeviceState,
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
import { deviceStreamFold, handleCommand, LruStreamCache, type RetryPolicy } from '../command-handler';
import { mediaViewed, toDeviceCommand } from '../device-change';
import { DEFAULT_MAX_APPEND_BYTES, splitByBytes } from '../append-size';
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
  /** Largest append the store accepts (EVENTSTORE_MAX_APPEND_BYTES; default 1 MiB): views are split under it. */
  readonly maxAppendBytes?: number;
}

/**
 * Writes import lines through the same command handler as the HTTP API. Ownership lines: each device's lines
 * of a batch are decided in file order by the domain decider and appended together with the stream's revision
 * as the expectation (decided again on a stale history). Views: appended to their shard stream with `'any'`,
 * in appends sized by bytes, all of a batch in one `appendMany` (one group commit).
 */
export class StoreLedgerWriter implements LedgerWriter {
  private readonly devices: LruStreamCache<DeviceState>;
  private readonly now: () => Millis;
  private readonly retry: RetryPolicy;
  private readonly maxAppendBytes: number;
  /** Head before this writer's first view append: views at or before it were stored by an earlier run. */
  private baseline: LogPosition | null = null;

  constructor(
    private readonly store: EventStore,
    options: StoreLedgerWriterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.devices = new LruStreamCache(options.maxCachedDevices ?? 100_000);
    this.maxAppendBytes = options.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES;
    const maxRetries = options.maxRetries ?? 5;
    this.retry = {
      maxRetries,
      // A stale history shows as a concurrency error, or (when another run of this import stored some of
      // these ids meanwhile) as an append that is neither new nor a retry: read again either way.
      shouldRetry: (error, fresh) =>
        error instanceof ConcurrencyError || (error instanceof InvalidAppendError && !fresh),
      delayMs: () => 0,
    };
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
    const requests: AppendRequest[] = [];
    const requestLines: number[][] = [];
    for (const [shard, indices] of byShard) {
      const events = indices.map((i) => viewEvent(batch[i], recordedAt));
      let offset = 0;
      for (const part of splitByBytes(events, this.maxAppendBytes)) {
        requests.push({ stream: Streams.views(shard), expectedRevision: 'any', events: part });
        requestLines.push(indices.slice(offset, offset + part.length));
        offset += part.length;
      }
    }
    const results = await this.store.appendMany(requests);
    const outcomes = new Array<LineOutcome>(batch.length);
    for (let r = 0; r < requests.length; r++) {
      const indices = requestLines[r];
      const result = results[r];
      if (result instanceof Error) {
        if (!(result instanceof InvalidAppendError)) throw result;
        // Some of these ids are stored and some not (an earlier run batched differently): one by one.
        const single = await this.appendOneByOne(requests[r]);
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
   * One command per device per batch: its lines decided in order against its history (a line whose event id
   * is in the stream was imported before), what they change appended at once. A batch that appends nothing
   * proves nothing, so rejections decided on a remembered history are confirmed on a fresh read.
   */
  private async applyToDevice(
    deviceId: string,
    lines: readonly NumberedLine<OwnershipLine>[],
  ): Promise<LineOutcome[]> {
    try {
      const handled = await handleCommand(
        this.store,
        Streams.device(deviceId),
        deviceStreamFold,
        (loaded) => {
          let state = loaded.state;
          const outcomes: LineOutcome[] = [];
          const events: NewEvent[] = [];
          for (const item of lines) {
            if (loaded.eventIds.has(item.eventId)) {
              outcomes.push(SKIPPED);
              continue;
            }
            try {
              const [event] = decide(toDeviceCommand(item.input, this.now()), state);
              state = applyDeviceEvent(state, event);
              events.push({
                eventId: item.eventId,
                type: event.type,
                data: event.data as unknown as JsonObject,
              });
              outcomes.push(ACCEPTED);
            } catch (error) {
              if (!(error instanceof DomainError)) throw error;
              outcomes.push(rejected(error.message));
            }
          }
          return {
            events,
            result: outcomes,
            nextState: state,
            confirmOnFreshRead: outcomes.some((outcome) => outcome.status === 'rejected'),
          };
        },
        this.retry,
        this.devices,
      );
      return handled.result;
    } catch (error) {
      const refusal =
        error instanceof ConcurrencyError
          ? new ContendedChangeError(deviceId).message
          : error instanceof InvalidAppendError
            ? error.message
            : null;
      if (refusal === null) throw error;
      // The lines the decider accepted could not be stored; its own refusals stand as decided.
      return this.decideAlone(deviceId, lines, refusal);
    }
  }

  /** The outcomes of lines whose append failed for good: the decider's refusals, and `refusal` for the rest. */
  private async decideAlone(
    deviceId: string,
    lines: readonly NumberedLine<OwnershipLine>[],
    refusal: string,
  ): Promise<LineOutcome[]> {
    let state: DeviceState = null;
    for (const event of await this.store.readStream(Streams.device(deviceId))) {
      state = deviceStreamFold.apply(state, event);
    }
    return lines.map((item) => {
      try {
        const [event] = decide(toDeviceCommand(item.input, this.now()), state);
        state = applyDeviceEvent(state, event);
        return rejected(refusal);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        return rejected(error.message);
      }
    });
  }
}

function viewEvent(item: NumberedLine<ViewLine>, recordedAt: string): NewEvent {
  const event = mediaViewed(item.input, recordedAt);
  return { eventId: item.eventId, type: event.type, data: event.data as unknown as JsonObject };
}

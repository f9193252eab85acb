import type { Observable } from 'rxjs';
import type {
  AppendRequest,
  AppendResult,
  EventStore,
  LogPosition,
  ReadAllDataOptions,
  ReadAllDataPage,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  SerializedAppendRequest,
  SubscribeOptions,
  StoredSubscriptionMessage,
  SubscriptionMessage,
} from '@ledger/event-store';
import type { StoreWritability } from '../health/store-writability';
import type { LedgerMetrics } from './ledger-metrics';

/**
 * Decorates the store port with append metrics, and tells readiness whether appends succeed; the adapters
 * stay free of metrics code.
 */
export class InstrumentedEventStore implements EventStore {
  /** Last position this process appended: the projection is behind while it has not reached it. */
  lastAppended: LogPosition | null = null;
  appendedEvents = 0;

  constructor(
    private readonly inner: EventStore,
    private readonly metrics: LedgerMetrics,
    private readonly writability: StoreWritability | null = null,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  // The append methods are not async: an async method keeps its arguments in its suspended frame until its
  // commit is answered, and a 1000-view request held that long was copied by every scavenge in between
  // (garbage collection was the biggest share of the loop's stretches). Only the counts reach the awaits.
  append(request: AppendRequest): Promise<AppendResult> {
    const stop = this.metrics.appendDuration.startTimer();
    const events = request.events.length;
    this.metrics.appendBatchSize.observe(events);
    return this.recorded(events, stop, this.inner.append(request));
  }

  appendSerialized(request: SerializedAppendRequest): Promise<AppendResult> {
    const stop = this.metrics.appendDuration.startTimer();
    const events = request.events.eventIds.length;
    this.metrics.appendBatchSize.observe(events);
    return this.recorded(events, stop, this.inner.appendSerialized(request));
  }

  appendMany(requests: readonly AppendRequest[]): Promise<ReadonlyArray<AppendResult | Error>> {
    const stop = this.metrics.appendDuration.startTimer();
    for (const request of requests) this.metrics.appendBatchSize.observe(request.events.length);
    return this.recordedEach(stop, this.inner.appendMany(requests));
  }

  private async recorded(
    events: number,
    stop: () => void,
    pending: Promise<AppendResult>,
  ): Promise<AppendResult> {
    try {
      const result = await pending;
      this.lastAppended = result.position;
      this.appendedEvents += events;
      this.writability?.appendSucceeded();
      return result;
    } catch (error) {
      this.writability?.appendFailed(error);
      throw error;
    } finally {
      stop();
    }
  }

  private async recordedEach(
    stop: () => void,
    pending: Promise<ReadonlyArray<AppendResult | Error>>,
  ): Promise<ReadonlyArray<AppendResult | Error>> {
    try {
      const results = await pending;
      for (const result of results) {
        if (!(result instanceof Error)) {
          this.lastAppended = result.position;
          this.appendedEvents += result.positions.length;
          this.writability?.appendSucceeded();
        } else this.writability?.appendFailed(result);
      }
      return results;
    } catch (error) {
      this.writability?.appendFailed(error);
      throw error;
    } finally {
      stop();
    }
  }

  readStream(stream: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]> {
    return this.inner.readStream(stream, options);
  }
  readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    return this.inner.readAll(options);
  }
  readAllData(options: ReadAllDataOptions): Promise<ReadAllDataPage> {
    return this.inner.readAllData(options);
  }
  subscribeToAll(options: SubscribeOptions): Observable<SubscriptionMessage> {
    return this.inner.subscribeToAll(options);
  }
  subscribeToAllStored(options: SubscribeOptions): Observable<StoredSubscriptionMessage> {
    return this.inner.subscribeToAllStored(options);
  }
  headPosition(): Promise<LogPosition> {
    return this.inner.headPosition();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

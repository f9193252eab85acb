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

  append(request: AppendRequest): Promise<AppendResult> {
    // Only the count outlives the await: a 1000-view request held until its commit is answered was copied by
    // every scavenge in between (garbage collection was the biggest share of the loop's stretches).
    return this.recorded(request.events.length, () => this.inner.append(request));
  }

  appendSerialized(request: SerializedAppendRequest): Promise<AppendResult> {
    return this.recorded(request.events.eventIds.length, () => this.inner.appendSerialized(request));
  }

  private async recorded(events: number, append: () => Promise<AppendResult>): Promise<AppendResult> {
    const stop = this.metrics.appendDuration.startTimer();
    this.metrics.appendBatchSize.observe(events);
    try {
      const result = await append();
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

  async appendMany(requests: readonly AppendRequest[]): Promise<ReadonlyArray<AppendResult | Error>> {
    const stop = this.metrics.appendDuration.startTimer();
    for (const request of requests) this.metrics.appendBatchSize.observe(request.events.length);
    try {
      const results = await this.inner.appendMany(requests);
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

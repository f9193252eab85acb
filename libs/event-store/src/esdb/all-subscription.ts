import type { Subscriber } from 'rxjs';
import type { AllStreamResolvedEvent, AllStreamSubscription } from '@eventstore/db-client';
import { StoreUnavailableError } from '../errors';
import type { RecordedEvent, SubscriptionMessage } from '../event-store.port';
import { comparePositions, type LogPosition } from '../position';
import type { CompiledAllFilter } from './all-filter';
import { fromVendorEvent } from './event-mapping';
import { isTransient, toPortError } from './vendor-errors';

export interface ReconnectPolicy {
  /** First wait after a dropped subscription; doubles on every failed attempt. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive failed attempts after which the subscription errors with StoreUnavailableError. */
  readonly maxAttempts: number;
}

export interface SubscriptionSource {
  /** Opens a vendor catch-up subscription strictly after `from`. */
  open(from: LogPosition): AllStreamSubscription;
  /** Position of the last non-system event (START when none). */
  head(): Promise<LogPosition>;
  /** Position of the last event the filter matches (null when none). */
  lastMatching(): Promise<LogPosition | null>;
  isClosed(): boolean;
}

function later(a: LogPosition, b: LogPosition): LogPosition {
  return comparePositions(a, b) >= 0 ? a : b;
}

const ignore = (): void => undefined;

/**
 * One consumer's subscription to `$all`: catch-up then live, resumed after every dropped connection from the
 * last position it saw, so nothing is missed or delivered twice.
 *
 * Caught-up is reported once. Servers from 23.10 say when a subscription reaches the head; older ones never do,
 * so before the first subscribe the run also reads the head and the last event its filter matches: once the
 * subscription has passed that event, everything up to the head has been delivered.
 */
export class AllSubscriptionRun {
  private vendor: AllStreamSubscription | null = null;
  /** Position of the last event received (delivered or filtered out here); resubscriptions start after it. */
  private reached: LogPosition;
  private caughtUp = false;
  private target: { readonly head: LogPosition; readonly last: LogPosition | null } | null = null;
  private serverCaughtUp = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private finished = false;

  constructor(
    private readonly source: SubscriptionSource,
    private readonly filter: CompiledAllFilter,
    from: LogPosition,
    private readonly subscriber: Subscriber<SubscriptionMessage>,
    private readonly policy: ReconnectPolicy,
    private readonly onFinished: (run: AllSubscriptionRun) => void,
  ) {
    this.reached = from;
  }

  start(): void {
    void this.connect();
  }

  /** The consumer unsubscribed. */
  stop(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.release();
    this.onFinished(this);
  }

  /** Ends the subscription with a port error (the store was closed, or the server cannot be reached). */
  fail(error: Error): void {
    if (this.finished) return;
    this.stop();
    this.subscriber.error(error);
  }

  private async connect(): Promise<void> {
    if (this.finished) return;
    try {
      if (!this.caughtUp && !this.target) {
        const head = await this.source.head();
        const last = this.filter.unrestricted
          ? head.commit < 0n
            ? null
            : head
          : await this.source.lastMatching();
        if (this.finished) return;
        this.target = { head, last };
        if (last === null || comparePositions(last, this.reached) <= 0) this.reportCaughtUp();
      }
      this.subscribe();
    } catch (error) {
      this.dropped(error);
    }
  }

  private subscribe(): void {
    if (this.finished) return;
    const subscription = this.source.open(this.reached);
    this.vendor = subscription;
    this.serverCaughtUp = false;
    subscription.on('data', (resolved: AllStreamResolvedEvent) => this.onEvent(subscription, resolved));
    subscription.on('caughtUp', () => this.onServerCaughtUp(subscription));
    subscription.on('confirmation', () => {
      if (subscription === this.vendor) this.failures = 0;
    });
    subscription.on('error', (error: unknown) => this.onDropped(subscription, error));
    subscription.on('end', () => this.onDropped(subscription, undefined));
  }

  private onEvent(subscription: AllStreamSubscription, resolved: AllStreamResolvedEvent): void {
    if (subscription !== this.vendor || this.finished || !resolved.event) return;
    let event: RecordedEvent;
    try {
      event = fromVendorEvent(resolved.event);
    } catch (error) {
      this.fail(toPortError(error, { operation: 'subscribeToAll', closed: this.source.isClosed() }));
      return;
    }
    if (comparePositions(event.position, this.reached) <= 0) return;
    this.reached = event.position;
    this.failures = 0;
    if (this.filter.matches(event.stream, event.type)) this.subscriber.next({ kind: 'event', event });
    this.checkCaughtUp(subscription);
  }

  private onServerCaughtUp(subscription: AllStreamSubscription): void {
    if (subscription !== this.vendor || this.finished) return;
    this.serverCaughtUp = true;
    this.checkCaughtUp(subscription);
  }

  /**
   * The client can announce caught-up while events before it still sit in its buffer; the announcement only
   * counts once that buffer is empty.
   */
  private checkCaughtUp(subscription: AllStreamSubscription): void {
    if (this.caughtUp || this.finished || !this.target) return;
    const passedLast = this.target.last !== null && comparePositions(this.reached, this.target.last) >= 0;
    if (passedLast || (this.serverCaughtUp && subscription.readableLength === 0)) this.reportCaughtUp();
  }

  private reportCaughtUp(): void {
    if (this.caughtUp || !this.target) return;
    this.caughtUp = true;
    let position = later(this.target.head, this.reached);
    if (this.target.last) position = later(position, this.target.last);
    this.subscriber.next({ kind: 'caught-up', position });
  }

  private onDropped(subscription: AllStreamSubscription, error: unknown): void {
    if (subscription !== this.vendor || this.finished) return;
    this.release();
    this.dropped(error ?? new StoreUnavailableError('the $all subscription ended'));
  }

  private dropped(error: unknown): void {
    if (this.finished) return;
    const closed = this.source.isClosed();
    if (closed || !isTransient(error)) {
      this.fail(toPortError(error, { operation: 'subscribeToAll', closed }));
      return;
    }
    this.failures += 1;
    if (this.failures > this.policy.maxAttempts) {
      const cause = toPortError(error, { operation: 'subscribeToAll', closed });
      this.fail(
        new StoreUnavailableError(
          `the $all subscription could not be resumed after ${this.policy.maxAttempts} attempts`,
          {
            cause,
          },
        ),
      );
      return;
    }
    const delay = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** (this.failures - 1));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private release(): void {
    const subscription = this.vendor;
    this.vendor = null;
    if (!subscription) return;
    subscription.removeAllListeners('data');
    subscription.removeAllListeners('caughtUp');
    subscription.removeAllListeners('confirmation');
    subscription.removeAllListeners('end');
    subscription.removeAllListeners('error');
    // Cancelling raises an AbortError (or a late connection error) that nobody needs to see.
    subscription.on('error', ignore);
    subscription.unsubscribe().catch(ignore);
  }
}

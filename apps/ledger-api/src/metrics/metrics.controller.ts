import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { comparePositions, type EventStore } from '@ledger/event-store';
import { LiveProjection } from '@ledger/projections';
import { EVENT_STORE } from '../ledger.providers';
import { InstrumentedEventStore } from './instrumented-event-store';
import { LedgerMetrics } from './ledger-metrics';

/** Prometheus scrape endpoint. Unauthenticated like /health: it carries no ledger data, only counts. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: LedgerMetrics,
    private readonly projection: LiveProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    const head = await this.store.headPosition();
    const behind = comparePositions(head, this.projection.position) > 0;
    const applied = this.projection.appliedEvents;
    const appended = this.store instanceof InstrumentedEventStore ? this.store.appendedEvents : applied;
    this.metrics.projectionLagEvents.set(behind ? Math.max(0, appended - applied) : 0);
    this.metrics.projectionLagSeconds.set(
      behind && this.projection.lastAppliedAt > 0 ? (Date.now() - this.projection.lastAppliedAt) / 1000 : 0,
    );
    return this.metrics.registry.metrics();
  }
}

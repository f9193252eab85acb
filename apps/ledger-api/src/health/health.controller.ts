import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { comparePositions, positionToToken, type EventStore, type LogPosition } from '@ledger/event-store';
import { LiveProjection } from '@ledger/projections';
import { EVENT_STORE } from '../ledger.providers';
import { LogIntegrityIndicator } from '../log/log-integrity.indicator';

/** Liveness says the process serves; readiness says the store answers and the projection follows the log. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly projection: LiveProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly logIntegrity: LogIntegrityIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary: 'Ready: 200 when the store answers and the projection is caught up (same as /health/ready)',
  })
  ready() {
    // One read of the head serves both indicators.
    const head = this.readHead();
    return this.health.check([
      () => this.storeAnswers(head),
      () => this.projectionCaughtUp(head),
      () => this.logIntegrity.check(),
    ]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness probe' })
  readiness() {
    return this.ready();
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness probe: the process serves requests' })
  live() {
    return this.health.check([
      () => this.indicators.check('process').up({ uptimeSeconds: Math.round(process.uptime()) }),
    ]);
  }

  private readHead(): Promise<LogPosition> {
    return Promise.race([
      this.store.headPosition(),
      new Promise<never>((_resolve, reject) =>
        setTimeout(() => reject(new Error('timed out after 2 s')), 2000).unref(),
      ),
    ]);
  }

  private async storeAnswers(reading: Promise<LogPosition>) {
    const check = this.indicators.check('store');
    try {
      const head = await reading;
      return check.up({ name: this.store.name, head: positionToToken(head) });
    } catch (error) {
      return check.down({ name: this.store.name, error: (error as Error).message });
    }
  }

  private async projectionCaughtUp(reading: Promise<LogPosition>) {
    const check = this.indicators.check('projection');
    const head = await reading.catch(() => null);
    const behind = head !== null && comparePositions(head, this.projection.position) > 0;
    const data = { token: this.projection.token, caughtUp: this.projection.isCaughtUp };
    // A brief lag under write load is normal; not following the log at all is not ready.
    return this.projection.isCaughtUp && (!behind || Date.now() - this.projection.lastAppliedAt < 5000)
      ? check.up(data)
      : check.down(data);
  }
}

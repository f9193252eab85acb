import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { comparePositions, positionToToken, type EventStore, type LogPosition } from '@ledger/event-store';
import { LiveProjection } from '@ledger/projections';
import { EVENT_STORE } from '../ledger.providers';
import { StoreWritability } from './store-writability';
import { LogIntegrityIndicator } from '../log/log-integrity.indicator';

/**
 * Liveness says the process serves; readiness says the store answers, can write, and the projection follows
 * the log.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly projection: LiveProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly writability: StoreWritability,
    private readonly logIntegrity: LogIntegrityIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary:
      'Ready: 200 when the store answers and can write, and the projection is caught up (same as /health/ready)',
  })
  ready(@Res({ passthrough: true }) reply: FastifyReply) {
    // One read of the head serves both indicators.
    const head = this.readHead();
    return this.answer(reply, [
      () => this.storeAnswers(head),
      () => this.storeWrites(),
      () => this.projectionCaughtUp(head),
      async () => this.logIntegrity.check(),
    ]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness probe' })
  readiness(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.ready(reply);
  }

  /**
   * 200 with terminus' result, or 503 in the contract's error shape whose message names each failing
   * indicator and its reason (`details` keeps every indicator), so an operator reading a probe's log sees why.
   */
  private async answer(
    reply: FastifyReply,
    indicators: Array<() => Promise<HealthIndicatorResult>>,
  ): Promise<HealthCheckResult | Record<string, unknown>> {
    try {
      return await this.health.check(indicators);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const result = error.getResponse() as HealthCheckResult;
      const failing = Object.entries(result.error ?? {}).map(([name, state]) => {
        const { status: _status, ...rest } = state as Record<string, unknown>;
        // `reason` names the failure, `message` (when an indicator has one) says where and how.
        const why = [rest.reason, rest.message].filter((part) => typeof part === 'string').join(': ');
        return `${name} (${why || JSON.stringify(rest)})`;
      });
      void reply.status(503);
      return {
        statusCode: 503,
        error: 'Service Unavailable',
        message: `not ready: ${failing.join('; ')}`,
        details: result.details,
      };
    }
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

  /** A store that answers reads but cannot write (a full disk, say) is not ready: writes would all fail. */
  private async storeWrites() {
    const check = this.indicators.check('writable');
    const writability = await this.writability.check();
    return writability.ok ? check.up() : check.down({ reason: writability.reason });
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

import { Body, Controller, Get, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import {
  loadExportSigner,
  normalizeTrailFilter,
  recordExport,
  trailChunks,
  type ExportSigner,
  type ExportSummary,
} from '@ledger/audit-trail';
import type { LedgerConfig } from '@ledger/config';
import { InvalidInputError } from '@ledger/domain';
import type { EventStore } from '@ledger/event-store';
import { IntegrityMonitor } from '@ledger/log-integrity';
import { recordReplay, replayIncident } from '@ledger/replay';
import { RequireScope } from '../auth/api-key.guard';
import { ApiAnswers } from '../http/api-examples';
import { ReplayDto, TrailQuery } from '../dto/audit.dto';
import { EVENT_STORE, LEDGER_CONFIG } from '../ledger.providers';
import { LedgerMetrics } from '../metrics/ledger-metrics';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  /** Loaded (or generated once into the data dir) at start, so a bad LEDGER_EXPORT_KEY stops the service early. */
  private readonly signer: ExportSigner;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LEDGER_CONFIG) config: LedgerConfig,
    private readonly metrics: LedgerMetrics,
    private readonly integrity: IntegrityMonitor,
  ) {
    this.signer = loadExportSigner(config);
  }

  @Post('replay')
  @HttpCode(200)
  @RequireScope('audit:replay')
  @ApiOperation({
    summary: 'Incident replay: every view in the window judged by §2; the exact exposure report',
  })
  @ApiAnswers({
    status: 200,
    example: {
      window: { from: '2024-02-16T00:00:00.000Z', to: '2024-02-17T00:00:00.000Z' },
      logRange: { from: 'lt1.s', to: 'lt1.9x' },
      summary: {
        viewsExamined: 1200,
        exposures: 3,
        viewersExposed: 2,
        viewersOpened: 1,
        viewersPlayedVideo: 0,
        ownersAffected: 1,
        devicesAffected: 1,
        firstExposureAt: '2024-02-16T09:41:07.123Z',
        lastExposureAt: '2024-02-16T09:44:00.000Z',
      },
      exposures: [
        {
          eventId: '0b8f5e0e-3c1d-4a57-9d7e-2f1f3c5b6a10',
          occurredAt: '2024-02-16T09:41:07.123Z',
          viewerId: 'user-eve',
          deviceId: 'cam-7f3a',
          ownerId: 'user-alice',
          mediaId: 'evt-1',
          mediaType: 'thumbnail',
          action: 'delivered',
          reason: 'never_granted',
        },
      ],
      digest: 'sha256:…',
    },
  })
  async replay(@Body() body: ReplayDto, @Req() request: FastifyRequest) {
    const report = await replayIncident(this.store, body);
    await recordReplay(this.store, report, `api:${request.client?.name ?? 'unknown'}`, body);
    this.metrics.replays.inc();
    this.metrics.replayExposures.inc(report.summary.exposures);
    return report;
  }

  @Get('trail')
  @RequireScope('audit:export')
  @ApiOperation({
    summary: 'Signed, hash-chained audit trail of a device and/or user (NDJSON or CSV), streamed',
  })
  @ApiAnswers({
    status: 200,
    example:
      '{"seq":1,…,"prevHash":"000…","hash":"…"}\n{"manifest":{…,"signature":"…"}}' as unknown as object,
  })
  async trail(
    @Query() query: TrailQuery,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (query.deviceId === undefined && query.userId === undefined) {
      throw new InvalidInputError('deviceId', 'or userId is required');
    }
    const format = query.format ?? 'ndjson';
    const filter = { deviceId: query.deviceId, userId: query.userId, from: query.from, to: query.to };
    // Cut at a freshly signed tree head, carried in the manifest: each record is provably a leaf of it. The
    // filter is checked first, so a refused request appends no head.
    normalizeTrailFilter(filter);
    const cutAt = await this.integrity.cutExportAt();
    const chunks = trailChunks(this.store, filter, format, this.signer, { cutAt });
    // Pull the first chunk before answering, so a bad filter is still a clean 400 and not a broken stream.
    const first = await chunks.next();
    const store = this.store;
    const actor = `api:${request.client?.name ?? 'unknown'}`;
    const metrics = this.metrics;
    async function* body(): AsyncGenerator<string> {
      let next = first;
      while (!next.done) {
        yield next.value;
        next = await chunks.next();
      }
      const summary: ExportSummary = next.value;
      // On the record only once delivered whole.
      await recordExport(store, summary, filter, format, actor);
      metrics.exports.inc({ format });
    }
    const subject = query.deviceId ?? query.userId ?? 'trail';
    void reply
      .status(200)
      .header(
        'content-type',
        format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      )
      .header('content-disposition', `attachment; filename="audit-trail-${subject}.${format}"`)
      .send(Readable.from(body()));
  }
}

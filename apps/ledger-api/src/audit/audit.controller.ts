import { Body, Controller, Get, Head, HttpCode, Logger, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { AuditService, ExportNotRecordedError, pageShape, type ReplayAnswerShape } from '@ledger/application';
import { normalizeTrailFilter, type ExportFormat } from '@ledger/audit-trail';
import { InvalidInputError } from '@ledger/domain';
import { IntegrityMonitor } from '@ledger/log-integrity';
import { RequireScope } from '../auth/api-key.guard';
import { ApiAnswers } from '../http/api-examples';
import { ReplayDto, TrailQuery } from '../dto/audit.dto';
import { LedgerMetrics } from '../metrics/ledger-metrics';
import { ReplayAnswerQuery } from './replay-answer.query';

const NDJSON = 'application/x-ndjson';

/** The HTTP face of the audit service: parses, picks the answer's shape, streams. The use cases are the service's. */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  private readonly logger = new Logger('AuditController');

  constructor(
    private readonly audit: AuditService,
    private readonly metrics: LedgerMetrics,
    private readonly integrity: IntegrityMonitor,
  ) {}

  @Post('replay')
  @HttpCode(200)
  @RequireScope('audit:replay')
  @ApiOperation({
    summary: 'Incident replay: every view in the window judged by §2; the exact exposure report',
    description:
      'Runs on a worker thread (at most LEDGER_REPLAY_WORKERS at once, else 429 with Retry-After) and is ' +
      'recorded as IncidentReplayed before it is answered; `recorded` names that record. Large reports: ' +
      '`?format=ndjson` (or `Accept: application/x-ndjson`) streams a `{"report":…}` line, one ' +
      '`{"exposure":…}` line per exposure and a `{"recorded":…}` line; `?offset=&limit=` answers one page ' +
      'of exposures with `page: {offset, limit, returned, total, nextOffset}`. The digest is always over ' +
      'the whole report.',
  })
  @ApiAnswers(
    {
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
        recorded: { eventId: '5d0c7a4e-8f4b-4a47-9f0e-1c2d3e4f5a6b', token: 'lt1.9y' },
      },
    },
    [429],
  )
  async replay(
    @Body() body: ReplayDto,
    @Query() query: ReplayAnswerQuery,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const shape = this.answerShape(query, request.headers.accept);
    // Recorded before anything is sent; a bad request or a full pool is still a clean 400 or 429 here.
    const answer = await this.audit.replayAnswer(body, shape, actorOf(request));
    this.metrics.replays.inc();
    this.metrics.replayExposures.inc(answer.header.summary.exposures);
    // Streamed a piece at a time as the socket drains: a report of tens of megabytes is never one write (nor
    // one string to encode) on this thread, which also answers checks.
    const stream = Readable.from(answer, { objectMode: false });
    stream.once('close', () => answer.close());
    void reply
      .status(200)
      .header(
        'content-type',
        shape.kind === 'ndjson' ? `${NDJSON}; charset=utf-8` : 'application/json; charset=utf-8',
      )
      .send(stream);
  }

  @Post('rebuild')
  @HttpCode(200)
  @RequireScope('audit:replay')
  @ApiOperation({
    summary: 'Rebuild the relationship projection from position zero, off to the side, and report its digest',
    description:
      'Runs on a worker thread (at most LEDGER_REBUILD_WORKERS at once, else 429 with Retry-After) and ' +
      'changes nothing: compare its digest with GET /v1/projection?atLeast=<its token> to check the live ' +
      'projection against the log.',
  })
  @ApiAnswers(
    {
      status: 200,
      example: {
        digest: 'sha256:…',
        token: 'lt1.9x',
        events: 1000000,
        devices: 100000,
        relationships: 190000,
        durationMs: 4200,
      },
    },
    [429],
  )
  rebuild() {
    return this.audit.rebuild();
  }

  /**
   * What a GET would answer, without running the export and without recording one. Declared before the GET
   * so Fastify does not derive a HEAD route from it (which would run, and record, the whole export).
   */
  @Head('trail')
  @RequireScope('audit:export')
  @ApiOperation({ summary: 'The headers of the trail export, without running or recording it' })
  @ApiAnswers({ status: 200, example: {} })
  trailHead(@Query() query: TrailQuery, @Res() reply: FastifyReply): void {
    const { format } = trailRequest(query);
    void reply.status(200).headers(trailHeaders(query, format)).send();
  }

  @Get('trail')
  @RequireScope('audit:export')
  @ApiOperation({
    summary: 'Signed, hash-chained audit trail of a device and/or user (NDJSON or CSV), streamed',
    description:
      'Runs on a worker thread (at most LEDGER_EXPORT_WORKERS at once, else 429 with Retry-After). The ' +
      'export is recorded (AuditTrailExported) before its signed manifest, the last line, is sent; if the ' +
      'record fails the manifest is withheld, an error line ends the body and the connection is aborted.',
  })
  @ApiAnswers(
    {
      status: 200,
      example:
        '{"seq":1,…,"prevHash":"000…","hash":"…"}\n{"manifest":{…,"signature":"…"}}' as unknown as object,
    },
    [429],
  )
  async trail(
    @Query() query: TrailQuery,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { format, filter } = trailRequest(query);
    // Checked and admitted before any byte is sent: a bad filter is a clean 400, a full pool a clean 429.
    // Cut at a freshly signed tree head, carried in the manifest: each record is provably a leaf of it. The
    // filter is checked first (above), so a refused request appends no head.
    const cutAt = await this.integrity.cutExportAt();
    const prepared = this.audit.beginExport(filter, format, actorOf(request), cutAt);
    const body = new PassThrough();
    let answering = false;
    const sink = async (chunk: string): Promise<void> => {
      if (!answering) {
        answering = true;
        void reply.status(200).headers(trailHeaders(query, format)).send(body);
      }
      if (body.destroyed) throw new Error('the client closed the connection');
      if (!body.write(chunk)) await Promise.race([once(body, 'drain'), once(body, 'close')]);
    };
    try {
      await prepared.run(sink);
      this.metrics.exports.inc({ format });
      body.end();
    } catch (error) {
      if (!answering) throw error;
      this.logger.error(`export stopped after its first bytes: ${(error as Error).message}`);
      if (error instanceof ExportNotRecordedError && !body.destroyed) body.write(errorTrailer(format, error));
      // Aborted, not ended: no client takes what it holds for a complete answer.
      body.destroy(error as Error);
    }
  }

  private answerShape(query: ReplayAnswerQuery, accept: string | undefined): ReplayAnswerShape {
    const paged = query.offset !== undefined || query.limit !== undefined;
    const ndjson =
      query.format === 'ndjson' || (query.format === undefined && !paged && acceptsNdjson(accept));
    if (ndjson && paged) {
      throw new InvalidInputError(
        'format',
        'ndjson streams the whole report; offset and limit page the json answer',
      );
    }
    if (paged) return pageShape(query.offset, query.limit);
    return ndjson ? { kind: 'ndjson' } : { kind: 'json' };
  }
}

function actorOf(request: FastifyRequest): string {
  return `api:${request.client?.name ?? 'unknown'}`;
}

function acceptsNdjson(accept: string | undefined): boolean {
  return accept !== undefined && accept.split(',').some((part) => part.trim().split(';')[0] === NDJSON);
}

function trailRequest(query: TrailQuery) {
  if (query.deviceId === undefined && query.userId === undefined) {
    throw new InvalidInputError('deviceId', 'or userId is required');
  }
  const format: ExportFormat = query.format ?? 'ndjson';
  const filter = { deviceId: query.deviceId, userId: query.userId, from: query.from, to: query.to };
  normalizeTrailFilter(filter);
  return { format, filter };
}

function trailHeaders(query: TrailQuery, format: ExportFormat): Record<string, string> {
  const subject = query.deviceId ?? query.userId ?? 'trail';
  return {
    'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : `${NDJSON}; charset=utf-8`,
    'content-disposition': `attachment; filename="audit-trail-${subject}.${format}"`,
  };
}

/** The last line of an export that could not be recorded: not a record, not a manifest, so it never verifies. */
function errorTrailer(format: ExportFormat, error: Error): string {
  return format === 'csv'
    ? `#error,${JSON.stringify(error.message)}\n`
    : `${JSON.stringify({ error: { message: error.message } })}\n`;
}

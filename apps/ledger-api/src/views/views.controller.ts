import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { LedgerCommands, type WriteContext } from '@ledger/application';
import { RequireScope } from '../auth/api-key.guard';
import { ApiAnswers } from '../http/api-examples';
import { LedgerMetrics } from '../metrics/ledger-metrics';
import { AuthorizeMediaDto, ViewBatchDto, ViewDto } from '../dto/view.dto';
import { WriteCtx } from '../http/idempotency-key';
import { PreparedViewBatch } from './view-batch-preparation';

@ApiTags('views')
@ApiBearerAuth()
@Controller('v1')
export class ViewsController {
  constructor(
    private readonly commands: LedgerCommands,
    private readonly metrics: LedgerMetrics,
  ) {}

  @Post('views')
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Record a media view (authorized or not: it is evidence)' })
  @ApiAnswers(
    { status: 201, example: { eventId: '0b8f5e0e-3c1d-4a57-9d7e-2f1f3c5b6a10', token: 'lt1.3a' } },
    [413],
  )
  async view(@Body() body: ViewDto, @WriteCtx() ctx: WriteContext) {
    return (await this.commands.recordView(body, ctx)).body;
  }

  @Post('views/batch')
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Record 1–1000 views atomically: all valid or none stored' })
  @ApiAnswers({ status: 201, example: { count: 250, token: 'lt1.3b' } }, [413])
  async batch(@Body() body: ViewBatchDto, @WriteCtx() ctx: WriteContext) {
    // Built and serialized on the view batch worker from the body's bytes (no Idempotency-Key): only its
    // append is left.
    if (body instanceof PreparedViewBatch) return (await this.commands.appendViewBatch(body.rows())).body;
    return (await this.commands.recordViews(body.views, ctx)).body;
  }

  @Post('media/authorize')
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Verification layer: decide at the head of the log and record the outcome' })
  @ApiAnswers(
    {
      status: 200,
      example: {
        allowed: true,
        role: 'viewer',
        token: 'lt1.3c',
        eventId: '5d0c2f7e-8a44-4c1b-9a51-0c7e2d9b1f22',
      },
    },
    [503],
  )
  @ApiResponse({
    status: 403,
    description: 'denied (the denial is recorded)',
    schema: {
      example: {
        allowed: false,
        reason: 'revoked',
        token: 'lt1.3d',
        eventId: '7a3e9c11-2b6f-4d08-8f4e-1c2d3e4f5a6b',
      },
    },
  })
  async authorize(
    @Body() body: AuthorizeMediaDto,
    @WriteCtx() ctx: WriteContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.authorize(body, ctx);
    this.metrics.countDecisions('authorize', result.status === 200);
    void reply.status(result.status);
    return result.body;
  }
}

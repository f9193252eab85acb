import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { LedgerCommands, type WriteContext } from '@ledger/application';
import { RequireScope } from '../auth/api-key.guard';
import { LedgerMetrics } from '../metrics/ledger-metrics';
import { AuthorizeMediaDto, ViewBatchDto, ViewDto } from '../dto/view.dto';
import { WriteCtx } from '../http/idempotency-key';

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
  async view(@Body() body: ViewDto, @WriteCtx() ctx: WriteContext) {
    return (await this.commands.recordView(body, ctx)).body;
  }

  @Post('views/batch')
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Record 1–1000 views atomically: all valid or none stored' })
  async batch(@Body() body: ViewBatchDto, @WriteCtx() ctx: WriteContext) {
    return (await this.commands.recordViews(body.views, ctx)).body;
  }

  @Post('media/authorize')
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Verification layer: decide at the head of the log and record the outcome' })
  async authorize(
    @Body() body: AuthorizeMediaDto,
    @WriteCtx() ctx: WriteContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.authorize(body, ctx);
    this.metrics.checkDecisions.inc({
      endpoint: 'authorize',
      outcome: result.status === 200 ? 'allowed' : 'denied',
    });
    void reply.status(result.status);
    return result.body;
  }
}

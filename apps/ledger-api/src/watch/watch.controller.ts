import {
  BadRequestException,
  Controller,
  Get,
  GoneException,
  Headers,
  HttpException,
  HttpStatus,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MalformedTokenError, tokenToPosition, type LogPosition } from '@ledger/event-store';
import { RequireScope } from '../auth/api-key.guard';
import {
  RelationshipFeed,
  WatchConnectionLimitError,
  WatchTokenTooOldError,
} from './relationship-feed.service';

/** Seconds a client refused for too many connections should wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

@ApiTags('watch')
@ApiBearerAuth()
@Controller('v1')
export class WatchController {
  constructor(private readonly feed: RelationshipFeed) {}

  @Get('watch')
  @RequireScope('ledger:read')
  @ApiOperation({
    summary:
      'Server-Sent Events: relationship changes in log order, each with its token; resumable with ?after= or Last-Event-ID',
  })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'after', required: false, description: 'resume after this token (default: from now)' })
  @ApiResponse({
    status: 200,
    description: 'the event stream (change, heartbeat; a final overflow or error)',
  })
  @ApiResponse({
    status: 410,
    description: 'the token is too old to resume from; the message says how to resync',
  })
  @ApiResponse({
    status: 429,
    description: 'this API key holds too many watch connections (Retry-After set)',
  })
  async watch(
    @Query('after') after: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const resumeFrom = after ?? lastEventId;
    let position: LogPosition | null = null;
    if (resumeFrom !== undefined) {
      try {
        position = tokenToPosition(resumeFrom);
      } catch (error) {
        if (error instanceof MalformedTokenError)
          throw new BadRequestException('after is not a token issued by this ledger');
        throw error;
      }
    }
    try {
      // The feed writes to the socket itself, page by page as it drains: Fastify must not answer for it.
      await this.feed.open(reply.raw, request.client?.name ?? 'anonymous', position, () => reply.hijack());
    } catch (error) {
      if (error instanceof WatchTokenTooOldError) throw new GoneException(error.message);
      if (error instanceof WatchConnectionLimitError) {
        void reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
        throw new HttpException(error.message, HttpStatus.TOO_MANY_REQUESTS);
      }
      throw error;
    }
  }
}

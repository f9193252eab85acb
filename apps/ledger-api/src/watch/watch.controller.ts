import { BadRequestException, Controller, Headers, Query, Req, Sse, type MessageEvent } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { fromEvent, map, type Observable } from 'rxjs';
import { MalformedTokenError, tokenToPosition, type LogPosition } from '@ledger/event-store';
import { RequireScope } from '../auth/api-key.guard';
import { RelationshipFeed } from './relationship-feed.service';

@ApiTags('watch')
@ApiBearerAuth()
@Controller('v1')
export class WatchController {
  constructor(private readonly feed: RelationshipFeed) {}

  @Sse('watch')
  @RequireScope('ledger:read')
  @ApiOperation({
    summary:
      'Server-Sent Events: relationship changes in log order, each with its token; resumable with ?after= or Last-Event-ID',
  })
  @ApiQuery({ name: 'after', required: false, description: 'resume after this token (default: from now)' })
  watch(
    @Query('after') after: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: FastifyRequest,
  ): Observable<MessageEvent> {
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
    return this.feed
      .watch(position, fromEvent(request.raw, 'close'))
      .pipe(map((message) => ({ type: message.type, id: message.id, data: message.data }) as MessageEvent));
  }
}

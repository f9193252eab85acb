import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { MAX_REPLAY_PAGE_LIMIT } from '@ledger/application';

/** How `POST /v1/audit/replay` hands its report out: whole, as NDJSON, or one page of exposures. */
export class ReplayAnswerQuery {
  @ApiPropertyOptional({
    enum: ['json', 'ndjson'],
    default: 'json',
    description:
      'ndjson: a report line, one line per exposure, then the record line (also `Accept: application/x-ndjson`)',
  })
  @IsOptional()
  @IsIn(['json', 'ndjson'], { message: '$property must be json or ndjson' })
  format?: 'json' | 'ndjson';

  @ApiPropertyOptional({ minimum: 0, description: 'page through the exposures from this index (with limit)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: '$property must be a non-negative integer' })
  @Min(0, { message: '$property must be a non-negative integer' })
  offset?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_REPLAY_PAGE_LIMIT, description: 'exposures per page' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: `$property must be an integer from 1 to ${MAX_REPLAY_PAGE_LIMIT}` })
  @Min(1, { message: `$property must be an integer from 1 to ${MAX_REPLAY_PAGE_LIMIT}` })
  @Max(MAX_REPLAY_PAGE_LIMIT, { message: `$property must be an integer from 1 to ${MAX_REPLAY_PAGE_LIMIT}` })
  limit?: number;
}

import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsString, Matches } from 'class-validator';
import { ID_PATTERN } from '@ledger/domain';
import { IsLedgerId, IsTime, OptionalField } from './validators';

const ID_LIST_MESSAGE = 'each value in $property must be a ledger id (1–128 of A-Z a-z 0-9 . _ : -)';

export class ReplayDto {
  @IsTime({ optional: true, description: 'window start on the view occurredAt (inclusive)' }) from?: string;
  @IsTime({ optional: true, description: 'window end (exclusive)' }) to?: string;
  @ApiPropertyOptional({ type: [String], example: ['cam-7f3a'], maxItems: 10000 })
  @OptionalField()
  @IsArray({ message: '$property must be an array of ids' })
  @ArrayMaxSize(10000, { message: '$property must hold at most 10000 ids' })
  @IsString({ each: true, message: ID_LIST_MESSAGE })
  @Matches(ID_PATTERN, { each: true, message: ID_LIST_MESSAGE })
  deviceIds?: string[];
  @ApiPropertyOptional({ type: [String], example: ['user-bob'], maxItems: 10000 })
  @OptionalField()
  @IsArray({ message: '$property must be an array of ids' })
  @ArrayMaxSize(10000, { message: '$property must hold at most 10000 ids' })
  @IsString({ each: true, message: ID_LIST_MESSAGE })
  @Matches(ID_PATTERN, { each: true, message: ID_LIST_MESSAGE })
  viewerIds?: string[];
}

export class TrailQuery {
  @IsLedgerId('cam-7f3a', { optional: true, description: 'every event of this device' }) deviceId?: string;
  @IsLedgerId('user-bob', { optional: true, description: 'subject access report for this user' })
  userId?: string;
  @IsTime({ optional: true }) from?: string;
  @IsTime({ optional: true }) to?: string;
  @ApiPropertyOptional({ enum: ['ndjson', 'csv'], default: 'ndjson' })
  @OptionalField()
  @IsIn(['ndjson', 'csv'], { message: '$property must be ndjson or csv' })
  format?: 'ndjson' | 'csv';
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';

/** Tree sizes travel as decimal strings in the query; 15 digits keeps them safe integers. */
const SIZE = /^(0|[1-9]\d{0,14})$/;
const SIZE_MESSAGE = '$property must be a tree size (a non-negative integer)';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class HeadQuery {
  @ApiPropertyOptional({
    description: 'an earlier head: the one signed at exactly this tree size',
    example: '1024',
  })
  @IsOptional()
  @IsString({ message: SIZE_MESSAGE })
  @Matches(SIZE, { message: SIZE_MESSAGE })
  treeSize?: string;
}

export class InclusionQuery {
  @ApiProperty({ description: 'the event to prove', example: '0b8f5e0e-3c1d-4a57-9d7e-2f1f3c5b6a10' })
  @IsString({ message: '$property must be an event id (a UUID)' })
  @Matches(UUID, { message: '$property must be an event id (a UUID)' })
  eventId!: string;

  @ApiPropertyOptional({
    description: 'the tree to prove it in (default: the latest signed head)',
    example: '1024',
  })
  @IsOptional()
  @IsString({ message: SIZE_MESSAGE })
  @Matches(SIZE, { message: SIZE_MESSAGE })
  treeSize?: string;
}

export class ConsistencyQuery {
  @ApiProperty({ description: 'the older tree size (a head you kept)', example: '512' })
  @IsString({ message: SIZE_MESSAGE })
  @Matches(SIZE, { message: SIZE_MESSAGE })
  from!: string;

  @ApiPropertyOptional({
    description: 'the newer tree size (default: the latest signed head)',
    example: '1024',
  })
  @IsOptional()
  @IsString({ message: SIZE_MESSAGE })
  @Matches(SIZE, { message: SIZE_MESSAGE })
  to?: string;
}

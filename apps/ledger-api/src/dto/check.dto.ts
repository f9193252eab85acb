import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, ValidateNested } from 'class-validator';
import { IsLedgerId, IsTime, IsToken } from './validators';

export class CheckDto {
  @IsLedgerId('user-bob') userId!: string;
  @IsLedgerId('cam-7f3a') deviceId!: string;
  @IsToken({ optional: true, description: 'answer from a projection that has applied at least this token' })
  atLeast?: string;
  @IsTime({ optional: true, description: 'ask the historical question: was it allowed at that instant?' })
  at?: string;
}

export class CheckItemDto {
  @IsLedgerId('user-bob') userId!: string;
  @IsLedgerId('cam-7f3a') deviceId!: string;
}

export class BulkCheckDto {
  @ApiProperty({ type: [CheckItemDto], maxItems: 1000 })
  @IsArray({ message: '$property must be an array' })
  @ArrayMaxSize(1000, { message: '$property must hold at most 1000 checks' })
  @ValidateNested({ each: true })
  @Type(() => CheckItemDto)
  items!: CheckItemDto[];
  @IsToken({ optional: true }) atLeast?: string;
  @IsTime({ optional: true }) at?: string;
}

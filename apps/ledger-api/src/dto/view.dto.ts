import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, ValidateNested } from 'class-validator';
import { MEDIA_TYPES, VIEW_ACTIONS, type MediaType, type ViewAction } from '@ledger/domain';
import { IsLedgerId, IsOneOf, IsTime, IsToken } from './validators';

export class ViewDto {
  @IsLedgerId('user-bob') viewerId!: string;
  @IsLedgerId('cam-7f3a') deviceId!: string;
  @IsLedgerId('evt-20240216-0941') mediaId!: string;
  @IsOneOf(MEDIA_TYPES, 'thumbnail') mediaType!: MediaType;
  @IsOneOf(VIEW_ACTIONS, 'delivered') action!: ViewAction;
  @IsTime({ description: 'when the media was shown; judged at this instant, however late it arrives' })
  occurredAt!: string;
  @IsLedgerId('cdn-edge-12', { optional: true, description: 'the service that served it' }) servedBy?: string;
  @IsToken({ optional: true, description: 'token of the check the serving service relied on' })
  decisionToken?: string;
}

export class ViewBatchDto {
  @ApiProperty({ type: [ViewDto], minItems: 1, maxItems: 1000 })
  @IsArray({ message: '$property must be an array' })
  @ArrayMinSize(1, { message: '$property must hold at least 1 view' })
  @ArrayMaxSize(1000, { message: '$property must hold at most 1000 views' })
  @ValidateNested({ each: true })
  @Type(() => ViewDto)
  views!: ViewDto[];
}

export class AuthorizeMediaDto {
  @IsLedgerId('user-bob') viewerId!: string;
  @IsLedgerId('cam-7f3a') deviceId!: string;
  @IsLedgerId('evt-20240216-0941') mediaId!: string;
  @IsOneOf(MEDIA_TYPES, 'event_video') mediaType!: MediaType;
  @IsOneOf(VIEW_ACTIONS, 'played') action!: ViewAction;
  @IsLedgerId('media-svc-3', { optional: true }) servedBy?: string;
}

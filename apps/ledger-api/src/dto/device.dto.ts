import { MAX_MODEL_LENGTH } from '@ledger/domain';
import { IsActor, IsFreeText, IsLedgerId, IsOptionalBoolean, IsReason, IsTime, IsToken } from './validators';

export class RegisterDeviceDto {
  @IsLedgerId('cam-7f3a') deviceId!: string;
  @IsLedgerId('user-alice') ownerId!: string;
  @IsActor() actor!: string;
  @IsTime({ optional: true, description: 'business time; defaults to receipt time' }) occurredAt?: string;
  @IsFreeText(MAX_MODEL_LENGTH, 'v3-pan') model?: string;
}

export class GrantAccessDto {
  @IsLedgerId('user-bob') userId!: string;
  @IsActor() actor!: string;
  @IsReason() reason?: string;
  @IsTime({ optional: true, description: 'ends the share at this instant; later than occurredAt' })
  expiresAt?: string;
  @IsTime({ optional: true, description: 'business time; defaults to receipt time' }) occurredAt?: string;
}

export class RevokeAccessDto {
  @IsLedgerId('user-bob') userId!: string;
  @IsActor() actor!: string;
  @IsReason() reason?: string;
  @IsTime({ optional: true, description: 'business time; defaults to receipt time' }) occurredAt?: string;
}

export class TransferOwnershipDto {
  @IsLedgerId('user-carol') newOwnerId!: string;
  @IsActor() actor!: string;
  @IsReason() reason?: string;
  @IsOptionalBoolean() keepViewers?: boolean;
  @IsTime({ optional: true, description: 'business time; defaults to receipt time' }) occurredAt?: string;
}

export class DecommissionDeviceDto {
  @IsActor() actor!: string;
  @IsReason() reason?: string;
  @IsTime({ optional: true, description: 'business time; defaults to receipt time' }) occurredAt?: string;
}

export class DeviceIdParam {
  @IsLedgerId('cam-7f3a') deviceId!: string;
}

export class UserIdParam {
  @IsLedgerId('user-alice') userId!: string;
}

export class AtLeastQuery {
  @IsToken({ optional: true, description: 'answer from a projection that has applied at least this token' })
  atLeast?: string;
}

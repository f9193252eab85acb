import type { MediaType, ViewAction } from '@ledger/domain';

/** Inputs arrive validated for shape (DTOs, import lines); the handlers check the rules. */
export interface RegisterDeviceInput {
  readonly deviceId: string;
  readonly ownerId: string;
  readonly actor: string;
  readonly occurredAt?: string;
  readonly model?: string;
}

export interface GrantAccessInput {
  readonly deviceId: string;
  readonly userId: string;
  readonly actor: string;
  readonly reason?: string;
  readonly expiresAt?: string;
  readonly occurredAt?: string;
}

export interface RevokeAccessInput {
  readonly deviceId: string;
  readonly userId: string;
  readonly actor: string;
  readonly reason?: string;
  readonly occurredAt?: string;
}

export interface TransferOwnershipInput {
  readonly deviceId: string;
  readonly newOwnerId: string;
  readonly actor: string;
  readonly reason?: string;
  readonly keepViewers?: boolean;
  readonly occurredAt?: string;
}

export interface DecommissionDeviceInput {
  readonly deviceId: string;
  readonly actor: string;
  readonly reason?: string;
  readonly occurredAt?: string;
}

export interface ViewInput {
  readonly viewerId: string;
  readonly deviceId: string;
  readonly mediaId: string;
  readonly mediaType: MediaType;
  readonly action: ViewAction;
  readonly occurredAt: string;
  readonly servedBy?: string;
  readonly decisionToken?: string;
}

export interface AuthorizeInput {
  readonly viewerId: string;
  readonly deviceId: string;
  readonly mediaId: string;
  readonly mediaType: MediaType;
  readonly action: ViewAction;
  readonly servedBy?: string;
}

export interface CheckInput {
  readonly userId: string;
  readonly deviceId: string;
  readonly atLeast?: string;
  readonly at?: string;
}

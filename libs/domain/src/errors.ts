/**
 * One class per failure. The HTTP layer maps `kind` to a status in one filter; nothing throws strings.
 */
export type DomainErrorKind = 'invalid' | 'not_found' | 'conflict';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
}

/** Invalid input; `field` names what is wrong (400). */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field} ${message}`);
    this.name = 'InvalidInputError';
  }
}

export class DeviceNotFoundError extends DomainError {
  readonly kind = 'not_found';
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} is not registered`);
    this.name = 'DeviceNotFoundError';
  }
}

export abstract class RuleViolationError extends DomainError {
  readonly kind = 'conflict';
}

export class DeviceAlreadyRegisteredError extends RuleViolationError {
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} is already registered`);
    this.name = 'DeviceAlreadyRegisteredError';
  }
}

export class DeviceDecommissionedError extends RuleViolationError {
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} is decommissioned and accepts no further change`);
    this.name = 'DeviceDecommissionedError';
  }
}

export class OutOfOrderChangeError extends RuleViolationError {
  constructor(
    readonly deviceId: string,
    readonly occurredAt: string,
    readonly previousAt: string,
  ) {
    super(`occurredAt ${occurredAt} is before the device's previous ownership change at ${previousAt}`);
    this.name = 'OutOfOrderChangeError';
  }
}

export class OwnerAccessChangeError extends RuleViolationError {
  constructor(
    readonly deviceId: string,
    readonly userId: string,
  ) {
    super(
      `user ${userId} owns device ${deviceId}; the owner cannot be granted or revoked (transfer instead)`,
    );
    this.name = 'OwnerAccessChangeError';
  }
}

export class NoActiveAccessError extends RuleViolationError {
  constructor(
    readonly deviceId: string,
    readonly userId: string,
  ) {
    super(`user ${userId} has no active access to device ${deviceId} to revoke`);
    this.name = 'NoActiveAccessError';
  }
}

export class AlreadyOwnerError extends RuleViolationError {
  constructor(
    readonly deviceId: string,
    readonly userId: string,
  ) {
    super(`user ${userId} already owns device ${deviceId}`);
    this.name = 'AlreadyOwnerError';
  }
}

/** The device changed under us more times than the handler is willing to retry. */
export class ContendedChangeError extends RuleViolationError {
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} is being changed concurrently; retry`);
    this.name = 'ContendedChangeError';
  }
}

export class IdempotencyKeyReusedError extends RuleViolationError {
  constructor() {
    super('Idempotency-Key was already used with a different request');
    this.name = 'IdempotencyKeyReusedError';
  }
}

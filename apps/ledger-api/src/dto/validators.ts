import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsString,
  Matches,
  ValidateBy,
  ValidateIf,
  type ValidationOptions,
} from 'class-validator';
import { freeTextProblem, ID_PATTERN, MAX_REASON_LENGTH, parseRfc3339 } from '@ledger/domain';
import { tokenToPosition } from '@ledger/event-store';

/**
 * An optional field may be left out, never sent as `null`: only an absent field skips validation, so a `null`
 * is refused naming the field, as the import refuses it (class-validator's IsOptional lets `null` through).
 */
export function OptionalField() {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}

const ID_MESSAGE =
  '$property must be 1–128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit';

/** A user, device or media id (contract §1). */
export function IsLedgerId(example: string, options: { optional?: boolean; description?: string } = {}) {
  const doc = { example, description: options.description, pattern: ID_PATTERN.source, maxLength: 128 };
  return applyDecorators(
    ...(options.optional ? [OptionalField(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    IsString({ message: '$property must be a string' }),
    Matches(ID_PATTERN, { message: ID_MESSAGE }),
  );
}

/** Who caused a change: a user id, `support:alice`, `svc:provisioning`. */
export function IsActor() {
  return applyDecorators(
    ApiProperty({
      example: 'svc:provisioning',
      description: 'who caused the change',
      pattern: ID_PATTERN.source,
    }),
    IsString({ message: '$property must be a string' }),
    Matches(ID_PATTERN, { message: ID_MESSAGE }),
  );
}

/** Free text under the one rule of `freeTextProblem` (the import applies the same). */
export function IsFreeText(max: number, example: string) {
  return applyDecorators(
    ApiPropertyOptional({ example, minLength: 1, maxLength: max }),
    OptionalField(),
    ValidateBy({
      name: 'isFreeText',
      validator: {
        validate: (value: unknown) => freeTextProblem(value, max) === undefined,
        defaultMessage: (args) => `$property ${freeTextProblem(args?.value, max) ?? 'is not valid'}`,
      },
    }),
  );
}

export function IsReason() {
  return IsFreeText(MAX_REASON_LENGTH, 'household member');
}

export function IsRfc3339(validationOptions?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isRfc3339',
      validator: {
        validate: (value: unknown) => parseRfc3339(value) !== undefined,
        defaultMessage: () => '$property must be an RFC 3339 time, e.g. 2024-02-16T09:41:07.123Z',
      },
    },
    validationOptions,
  );
}

export function IsTime(options: { optional?: boolean; description?: string } = {}) {
  const doc = { example: '2024-02-16T09:41:07.123Z', format: 'date-time', description: options.description };
  return applyDecorators(
    ...(options.optional ? [OptionalField(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    IsRfc3339(),
  );
}

export function IsToken(options: { optional?: boolean; description?: string } = {}) {
  const doc = {
    example: 'lt1.2s',
    description: options.description ?? 'a consistency token returned by an earlier call',
  };
  return applyDecorators(
    ...(options.optional ? [OptionalField(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    ValidateBy({
      name: 'isToken',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          try {
            tokenToPosition(value);
            return true;
          } catch {
            return false;
          }
        },
        defaultMessage: () => '$property is not a token issued by this ledger',
      },
    }),
  );
}

export function IsOneOf(values: readonly string[], example: string) {
  return applyDecorators(
    ApiProperty({ enum: values, example }),
    IsIn(values as string[], { message: `$property must be one of ${values.join(', ')}` }),
  );
}

export function IsOptionalBoolean() {
  return applyDecorators(
    ApiPropertyOptional({ example: false }),
    OptionalField(),
    IsBoolean({ message: '$property must be true or false' }),
  );
}

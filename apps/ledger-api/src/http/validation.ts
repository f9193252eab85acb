import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError, type ValidatorOptions } from 'class-validator';

/** The rules every transport applies to a body: unknown fields are refused, not dropped. */
export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: false,
};

/** Flattens nested validation errors so the message names the full field path (`views.3.occurredAt`). */
export function describeErrors(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((m) =>
      m.startsWith(`${error.property} `) ? `${field}${m.slice(error.property.length)}` : `${field}: ${m}`,
    );
    return [...own, ...describeErrors(error.children ?? [], field)];
  });
}

/**
 * The HTTP DTO rules applied to a body that did not come through the HTTP validation pipe (gRPC requests):
 * the same classes, the same options, the same messages.
 */
export function validateAs<T extends object>(
  type: ClassConstructor<T>,
  plain: object,
): { readonly value: T } | { readonly message: string } {
  const value = plainToInstance(type, plain);
  const errors = validateSync(value, VALIDATOR_OPTIONS);
  return errors.length === 0 ? { value } : { message: describeErrors(errors).join('; ') };
}

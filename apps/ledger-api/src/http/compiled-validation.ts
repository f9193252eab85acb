import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { getMetadataStorage, ValidationTypes, type ValidationArguments } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

/** true: the DTO rules accept the value; false: not sure (the full class-validator pass decides). */
export type CompiledCheck = (value: unknown) => boolean;

interface PropertyRule {
  readonly property: string;
  readonly conditions: ReadonlyArray<(object: object, value: unknown) => boolean>;
  readonly validators: ReadonlyArray<{
    readonly each: boolean;
    readonly constraints: unknown[];
    readonly validate: (value: unknown, args: ValidationArguments) => unknown;
    /** false: the constraint reads only the value (`directConstraint`), no arguments object is built. */
    readonly needsArgs: boolean;
  }>;
  /** The element/child check of a @ValidateNested property (class from its @Type). */
  readonly nested: { readonly each: boolean; readonly check: CompiledCheck } | null;
  readonly needsArgs: boolean;
}

const compiled = new WeakMap<object, CompiledCheck | null>();

/**
 * A fast path over a DTO class's own class-validator metadata: the same constraint functions (`isString`,
 * `matches` with its pattern, `isIn`, the ledger's `isRfc3339` and `isToken` …), the same conditions
 * (`@IsOptional` and any `@ValidateIf`), the same whitelist, called directly in one loop instead of through
 * class-transformer and the validation executor (a quarter of a 1000-view batch's CPU). It never writes an
 * error: when it cannot say "valid" — a rule it does not know, an async rule, any failure — the value goes
 * through the full class-validator pass, which produces the contract's error messages as before. So a DTO
 * rule added or tightened elsewhere is honoured by construction: known constraints are executed, not
 * re-implemented, and unknown kinds switch the fast path off for that class.
 */
export function compileDtoCheck(type: new (...args: never[]) => object): CompiledCheck | null {
  if (compiled.has(type)) return compiled.get(type) ?? null;
  compiled.set(type, null); // recursion guard: a self-nesting DTO stays on the slow path
  const check = build(type);
  compiled.set(type, check);
  return check;
}

function build(type: new (...args: never[]) => object): CompiledCheck | null {
  const storage = getMetadataStorage();
  const metadatas: ValidationMetadata[] = storage.getTargetValidationMetadatas(type, '', false, false);
  if (metadatas.length === 0) return null;
  const byProperty = storage.groupByPropertyName(metadatas);
  const rules: PropertyRule[] = [];
  for (const [property, list] of Object.entries(byProperty)) {
    const conditions: Array<(object: object, value: unknown) => boolean> = [];
    const validators: Array<PropertyRule['validators'][number]> = [];
    let nested: PropertyRule['nested'] = null;
    for (const metadata of list) {
      if (metadata.groups?.length || metadata.always) return null;
      if (metadata.type === ValidationTypes.CONDITIONAL_VALIDATION) {
        conditions.push(metadata.constraints[0] as (object: object, value: unknown) => boolean);
      } else if (metadata.type === ValidationTypes.CUSTOM_VALIDATION) {
        const constraints = storage.getTargetValidatorConstraints(metadata.constraintCls);
        if (constraints.length === 0) return null;
        for (const constraint of constraints) {
          if (constraint.async) return null;
          const instance = constraint.instance as {
            validate: PropertyRule['validators'][number]['validate'];
          };
          const direct = directConstraint(constraint.name, metadata.constraints);
          validators.push({
            each: metadata.each === true,
            constraints: metadata.constraints,
            validate: direct ?? instance.validate.bind(instance),
            needsArgs: direct === null,
          });
        }
      } else if (metadata.type === ValidationTypes.NESTED_VALIDATION) {
        const typeMetadata = defaultMetadataStorage.findTypeMetadata(type, property);
        const child = typeMetadata?.typeFunction() as (new (...args: never[]) => object) | undefined;
        const childCheck = child ? compileDtoCheck(child) : null;
        if (!childCheck || nested) return null;
        nested = { each: metadata.each === true, check: childCheck };
      } else {
        // isDefined, whitelist-only (@Allow), promise validation …: not needed by the contract's DTOs.
        return null;
      }
    }
    rules.push({ property, conditions, validators, nested, needsArgs: validators.some((v) => v.needsArgs) });
  }
  const known = new Set(rules.map((r) => r.property));
  const targetName = type.name;
  return (value: unknown): boolean => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    const object = value as Record<string, unknown>;
    for (const key in object) if (!known.has(key) || !Object.hasOwn(object, key)) return false;
    rules: for (const rule of rules) {
      const field = object[rule.property];
      for (const condition of rule.conditions) if (!condition(object, field)) continue rules;
      const args = rule.needsArgs
        ? ({
            targetName,
            property: rule.property,
            object,
            value: field,
            constraints: [],
          } as ValidationArguments)
        : NO_ARGUMENTS;
      for (const validator of rule.validators) {
        if (validator.needsArgs) (args as { constraints: unknown[] }).constraints = validator.constraints;
        if (validator.each) {
          if (!Array.isArray(field)) return false;
          for (const item of field) if (validator.validate(item, args) !== true) return false;
        } else if (validator.validate(field, args) !== true) return false;
      }
      if (rule.nested && field !== undefined) {
        if (rule.nested.each) {
          if (!Array.isArray(field)) return false;
          for (const item of field) if (!rule.nested.check(item)) return false;
        } else if (!rule.nested.check(field)) return false;
      }
    }
    return true;
  };
}

/** Handed to constraints that never read their arguments (`directConstraint`). */
const NO_ARGUMENTS = Object.freeze({
  targetName: '',
  property: '',
  object: {},
  value: undefined,
  constraints: [],
}) as ValidationArguments;

/**
 * class-validator's `isString` and `matches` (with a RegExp that keeps no state between calls) as the one
 * expression each comes down to. They check every id of the hot routes; through class-validator, `matches`
 * goes through validator.js's `assertString` and builds a `String.prototype.match` array per value. The
 * answers are the same: `compiled-validation.spec.ts` compares them with class-validator's on generated bodies.
 */
function directConstraint(
  name: string,
  constraints: readonly unknown[] | undefined,
): ((value: unknown) => boolean) | null {
  if (name === 'isString') return (value) => typeof value === 'string' || value instanceof String;
  const pattern = constraints?.[0];
  if (name === 'matches' && pattern instanceof RegExp && !pattern.global && !pattern.sticky) {
    return (value) => typeof value === 'string' && pattern.test(value);
  }
  return null;
}

/**
 * A body the service's own parser built after checking it against its DTO's rules elsewhere (a worker
 * thread): the pipe hands it to the handler as it is. No request body can be one — JSON parses to plain data.
 */
export abstract class ValidatedBody {
  /** The DTO class whose rules the body passed. */
  abstract readonly validatedAs: new (...args: never[]) => object;
}

/**
 * The global ValidationPipe with the compiled fast path in front: a body the DTO rules accept is handed to
 * the handler as parsed (the DTOs are plain data), anything else takes the usual pipe and its errors.
 */
export class CompiledValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const type = metadata.metatype;
    if (metadata.type === 'body' && typeof type === 'function' && type !== Object) {
      if (value instanceof ValidatedBody && value.validatedAs === type) return value;
      const check = compileDtoCheck(type as new (...args: never[]) => object);
      if (check?.(value)) return value;
    }
    return super.transform(value, metadata);
  }
}

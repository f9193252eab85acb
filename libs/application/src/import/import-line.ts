import {
  findDuplicateKey,
  freeTextProblem,
  InvalidInputError,
  isValidId,
  MAX_FUTURE_SKEW_MS,
  MAX_MODEL_LENGTH,
  MAX_REASON_LENGTH,
  MEDIA_TYPES,
  parseRfc3339,
  VIEW_ACTIONS,
  type MediaType,
  type Millis,
  type ViewAction,
} from '@ledger/domain';
import { MalformedTokenError, tokenToPosition } from '@ledger/event-store';

/** One line of an import file: `{"op": …, …the fields of the matching HTTP body, plus deviceId}` (§7). */
export const OWNERSHIP_OPS = ['register', 'grant', 'revoke', 'transfer', 'decommission'] as const;
export const IMPORT_OPS = [...OWNERSHIP_OPS, 'view'] as const;
export type OwnershipOp = (typeof OWNERSHIP_OPS)[number];
export type ImportOp = (typeof IMPORT_OPS)[number];

interface ChangeFields {
  readonly deviceId: string;
  readonly actor: string;
  readonly reason?: string;
  /** Business time; absent: the ledger's receipt time. */
  readonly occurredAt?: Millis;
}

export type RegisterLine = ChangeFields & {
  readonly op: 'register';
  readonly ownerId: string;
  readonly model?: string;
};
export type GrantLine = ChangeFields & {
  readonly op: 'grant';
  readonly userId: string;
  readonly expiresAt?: Millis;
};
export type RevokeLine = ChangeFields & { readonly op: 'revoke'; readonly userId: string };
export type TransferLine = ChangeFields & {
  readonly op: 'transfer';
  readonly newOwnerId: string;
  readonly keepViewers: boolean;
};
export type DecommissionLine = ChangeFields & { readonly op: 'decommission' };
export type OwnershipLine = RegisterLine | GrantLine | RevokeLine | TransferLine | DecommissionLine;

export interface ViewLine {
  readonly op: 'view';
  readonly viewerId: string;
  readonly deviceId: string;
  readonly mediaId: string;
  readonly mediaType: MediaType;
  readonly action: ViewAction;
  readonly occurredAt: Millis;
  readonly servedBy?: string;
  readonly decisionToken?: string;
}

export type ImportLine = OwnershipLine | ViewLine;

type Kind = 'id' | 'text' | 'time' | 'bool' | 'mediaType' | 'action' | 'token';
interface FieldSpec {
  readonly kind: Kind;
  readonly required: boolean;
  /** For text: the longest accepted value. */
  readonly max?: number;
}

const req = (kind: Kind): FieldSpec => ({ kind, required: true });
const opt = (kind: Kind, max?: number): FieldSpec => ({ kind, required: false, ...(max ? { max } : {}) });
const REASON = opt('text', MAX_REASON_LENGTH);
const CHANGE = { deviceId: req('id'), actor: req('id'), occurredAt: opt('time') };

/** The fields each op accepts: the HTTP bodies of contract §3 plus `deviceId`. Anything else is refused. */
const SPECS: Readonly<Record<ImportOp, Readonly<Record<string, FieldSpec>>>> = {
  register: { ...CHANGE, ownerId: req('id'), model: opt('text', MAX_MODEL_LENGTH) },
  grant: { ...CHANGE, userId: req('id'), reason: REASON, expiresAt: opt('time') },
  revoke: { ...CHANGE, userId: req('id'), reason: REASON },
  transfer: { ...CHANGE, newOwnerId: req('id'), reason: REASON, keepViewers: opt('bool') },
  decommission: { ...CHANGE, reason: REASON },
  view: {
    viewerId: req('id'),
    deviceId: req('id'),
    mediaId: req('id'),
    mediaType: req('mediaType'),
    action: req('action'),
    occurredAt: req('time'),
    servedBy: opt('id'),
    decisionToken: opt('token'),
  },
};

const ID_PROBLEM = 'must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit';

export function isOwnershipLine(line: ImportLine): line is OwnershipLine {
  return line.op !== 'view';
}

/**
 * Parses and validates one line. Throws `InvalidInputError` naming the field (`op`, `deviceId`, …; `JSON`
 * when the line is not a JSON object). `now` bounds business times: more than 5 minutes ahead is refused.
 */
export function parseImportLine(text: string, now: Millis): ImportLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(
      'JSON',
      `is malformed (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError('JSON', 'must be an object');
  }
  // JSON.parse keeps the last of two equal keys: the line would say two things, so it says neither.
  const duplicate = findDuplicateKey(text, parsed);
  if (duplicate !== null) throw new InvalidInputError(duplicate, 'appears more than once');
  const input = parsed as Record<string, unknown>;
  const op = input.op;
  if (op === undefined) throw new InvalidInputError('op', `is required (one of ${IMPORT_OPS.join(', ')})`);
  if (typeof op !== 'string' || !Object.prototype.hasOwnProperty.call(SPECS, op)) {
    throw new InvalidInputError('op', `must be one of ${IMPORT_OPS.join(', ')}`);
  }
  const specs = SPECS[op as ImportOp];
  const out: Record<string, unknown> = { op };
  for (const key of Object.keys(input)) {
    if (key !== 'op' && !Object.prototype.hasOwnProperty.call(specs, key)) {
      throw new InvalidInputError(key, `is not allowed for op ${op}`);
    }
  }
  for (const [field, spec] of Object.entries(specs)) {
    const value = input[field];
    if (value === undefined) {
      if (spec.required) throw new InvalidInputError(field, 'is required');
      continue;
    }
    out[field] = checkField(field, spec, value, now);
  }
  if (op === 'transfer' && out.keepViewers === undefined) out.keepViewers = false;
  return out as unknown as ImportLine;
}

function checkField(field: string, spec: FieldSpec, value: unknown, now: Millis): unknown {
  switch (spec.kind) {
    case 'id':
      if (!isValidId(value)) throw new InvalidInputError(field, ID_PROBLEM);
      return value;
    case 'text': {
      // The same rule as the HTTP bodies (a null is refused there too).
      const problem = freeTextProblem(value, spec.max ?? MAX_REASON_LENGTH);
      if (problem) throw new InvalidInputError(field, problem);
      return value;
    }
    case 'time': {
      const ms = parseRfc3339(value);
      if (ms === undefined) {
        throw new InvalidInputError(field, 'must be an RFC 3339 time such as 2024-02-16T09:41:07.123Z');
      }
      if (field === 'occurredAt' && ms > now + MAX_FUTURE_SKEW_MS) {
        throw new InvalidInputError(field, 'is more than 5 minutes in the future');
      }
      return ms;
    }
    case 'bool':
      if (typeof value !== 'boolean') throw new InvalidInputError(field, 'must be true or false');
      return value;
    case 'mediaType':
      if (!(MEDIA_TYPES as readonly unknown[]).includes(value)) {
        throw new InvalidInputError(field, `must be one of ${MEDIA_TYPES.join(', ')}`);
      }
      return value;
    case 'action':
      if (!(VIEW_ACTIONS as readonly unknown[]).includes(value)) {
        throw new InvalidInputError(field, `must be one of ${VIEW_ACTIONS.join(', ')}`);
      }
      return value;
    case 'token':
      if (typeof value !== 'string') throw new InvalidInputError(field, 'must be a token string');
      try {
        tokenToPosition(value);
      } catch (error) {
        if (error instanceof MalformedTokenError) throw new InvalidInputError(field, 'is not a valid token');
        throw error;
      }
      return value;
    default: {
      const unreachable: never = spec.kind;
      throw new Error(`unknown field kind ${String(unreachable)}`);
    }
  }
}

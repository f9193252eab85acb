/** A non-success answer from the ledger, typed by status so callers can catch what they handle. */
export class LedgerApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'LedgerApiError';
  }
}
export class LedgerValidationError extends LedgerApiError {}
export class LedgerUnauthorizedError extends LedgerApiError {}
export class LedgerForbiddenError extends LedgerApiError {}
export class LedgerNotFoundError extends LedgerApiError {}
export class LedgerConflictError extends LedgerApiError {}
export class LedgerPayloadTooLargeError extends LedgerApiError {}
export class LedgerUnavailableError extends LedgerApiError {}

export function errorForStatus(
  status: number,
  error: string,
  message: string,
  retryAfter?: number,
): LedgerApiError {
  const Type =
    {
      400: LedgerValidationError,
      401: LedgerUnauthorizedError,
      403: LedgerForbiddenError,
      404: LedgerNotFoundError,
      409: LedgerConflictError,
      413: LedgerPayloadTooLargeError,
      503: LedgerUnavailableError,
    }[status] ?? LedgerApiError;
  const instance = new Type(status, error, message, retryAfter);
  instance.name = Type.name;
  return instance;
}

import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';

const error = (statusCode: number, error: string, message: string) => ({ statusCode, error, message });

/** Example answers for the OpenAPI document: the success body and the contract's error statuses. */
export function ApiAnswers(success: { status: number; example: object }, errors: number[] = []) {
  const examples: Record<number, object> = {
    400: error(
      400,
      'Bad Request',
      'deviceId must be 1–128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit',
    ),
    401: error(401, 'Unauthorized', 'missing or malformed Authorization: Bearer <key> header'),
    403: error(403, 'Forbidden', 'this API key lacks the ledger:write scope'),
    404: error(404, 'Not Found', 'device cam-7f3a is not registered'),
    409: error(409, 'Conflict', 'user user-bob has no active access to device cam-7f3a to revoke'),
    413: error(413, 'Payload Too Large', 'Request body is too large'),
    429: error(
      429,
      'Too Many Requests',
      '1 replay is already running, the most this ledger runs at once; retry in 5 s',
    ),
    503: error(503, 'Service Unavailable', 'the projection did not reach token lt1.9x within 5000 ms'),
  };
  return applyDecorators(
    ApiResponse({ status: success.status, description: 'success', schema: { example: success.example } }),
    ...[400, 401, 403, ...errors].map((status) =>
      ApiResponse({
        status,
        description: (examples[status] as { error: string }).error,
        schema: { example: examples[status] },
      }),
    ),
  );
}

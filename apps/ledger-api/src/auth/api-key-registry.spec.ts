import { ApiKeyRegistry, type Authentication } from './api-key-registry';

const registry = new ApiKeyRegistry([
  { name: 'reader', key: 'read-key-0123456789', scopes: ['ledger:read'] },
  { name: 'writer', key: 'write-key-987654321', scopes: ['ledger:read', 'ledger:write'] },
]);

const who = (authentication: Authentication) =>
  authentication.ok ? authentication.client.name : `${authentication.failure}: ${authentication.message}`;

describe('ApiKeyRegistry.authenticate', () => {
  it.each([
    ['Bearer read-key-0123456789', 'ledger:read', 'reader'],
    ['bearer   write-key-987654321  ', 'ledger:write', 'writer'],
    ['Bearer read-key-0123456789', 'ledger:write', 'forbidden: this API key lacks the ledger:write scope'],
    ['Bearer read-key-01234567890', 'ledger:read', 'unauthenticated: unknown API key'],
    [
      'Basic cmVhZA==',
      'ledger:read',
      'unauthenticated: missing or malformed Authorization: Bearer <key> header',
    ],
    [undefined, 'ledger:read', 'unauthenticated: missing or malformed Authorization: Bearer <key> header'],
    [
      ['Bearer read-key-0123456789'],
      'ledger:read',
      'unauthenticated: missing or malformed Authorization: Bearer <key> header',
    ],
  ] as const)('given %p for %s: %s', (header, scope, expected) => {
    expect(who(registry.authenticate(header, scope))).toBe(expected);
  });
});

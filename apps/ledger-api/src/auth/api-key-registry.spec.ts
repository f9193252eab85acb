import { ApiKeyRegistry, type Authentication } from './api-key-registry';

const registry = () =>
  new ApiKeyRegistry([
    { name: 'reader', key: 'read-key-0123456789', scopes: ['ledger:read'] },
    { name: 'writer', key: 'write-key-987654321', scopes: ['ledger:read', 'ledger:write'] },
  ]);

const who = (authentication: Authentication) =>
  authentication.ok ? authentication.client.name : `${authentication.failure}: ${authentication.message}`;

describe('ApiKeyRegistry', () => {
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
  ] as const)('given %p for %s: %s', (header, scope, expected) => {
    expect(who(registry().authenticate(header, scope))).toBe(expected);
  });

  describe('on a kept-alive connection', () => {
    it('answers every request as authenticate would, whatever the connection sent before', () => {
      const keys = registry();
      const connection = {};
      const sequence: Array<[string | undefined, 'ledger:read' | 'ledger:write']> = [
        ['Bearer read-key-0123456789', 'ledger:read'],
        ['Bearer read-key-0123456789', 'ledger:read'],
        // The same key again, for a scope it lacks: the remembered caller is judged per request.
        ['Bearer read-key-0123456789', 'ledger:write'],
        // A wrong key of the same length right after a good one is not let in on the good one's account.
        ['Bearer read-key-0123456780', 'ledger:read'],
        [undefined, 'ledger:read'],
        ['Bearer write-key-987654321', 'ledger:write'],
        ['Bearer read-key-0123456789', 'ledger:write'],
        ['Bearer write-key-987654321', 'ledger:write'],
      ];
      for (const [header, scope] of sequence) {
        expect(who(keys.authenticateOn(connection, header, scope))).toBe(
          who(keys.authenticate(header, scope)),
        );
      }
    });

    it("never lets one connection in on another connection's key", () => {
      const keys = registry();
      const first = {};
      expect(who(keys.authenticateOn(first, 'Bearer write-key-987654321', 'ledger:write'))).toBe('writer');
      expect(who(keys.authenticateOn({}, 'Bearer write-key-987654320', 'ledger:write'))).toBe(
        'unauthenticated: unknown API key',
      );
      expect(who(keys.authenticateOn(first, 'Bearer write-key-987654321', 'ledger:write'))).toBe('writer');
    });
  });
});

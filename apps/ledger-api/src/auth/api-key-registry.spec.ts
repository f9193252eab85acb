import type { ApiKeyConfig } from '@ledger/config';
import { ApiKeyRegistry } from './api-key-registry';

const WRITER: ApiKeyConfig = {
  name: 'media-svc',
  key: 'k-writer-0123456789abcdef',
  scopes: ['ledger:read', 'ledger:write'],
};
const READER: ApiKeyConfig = { name: 'dashboard', key: 'k-reader-0123456789abcdef', scopes: ['ledger:read'] };

const bearer = (key: string) => `Bearer ${key}`;

describe('ApiKeyRegistry', () => {
  const registry = () => new ApiKeyRegistry([WRITER, READER]);

  it.each([
    ['no header', undefined, 'missing or malformed Authorization: Bearer <key> header'],
    ['another scheme', `Basic ${WRITER.key}`, 'missing or malformed Authorization: Bearer <key> header'],
    ['an unknown key', bearer('k-nobody'), 'unknown API key'],
  ])('turns away %s as unauthenticated', (_case, header, message) => {
    expect(registry().authenticate(header, 'ledger:read')).toEqual({
      ok: false,
      failure: 'unauthenticated',
      message,
    });
  });

  it("names the missing scope for a known key, and hands out the key's client otherwise", () => {
    expect(registry().authenticate(bearer(READER.key), 'ledger:write')).toEqual({
      ok: false,
      failure: 'forbidden',
      message: 'this API key lacks the ledger:write scope',
    });
    const accepted = registry().authenticate(bearer(WRITER.key), 'ledger:write');
    expect(accepted.ok && accepted.client.name).toBe('media-svc');
  });

  describe('per connection', () => {
    it('answers a connection that repeats its header as the first lookup did', () => {
      const keys = registry();
      const socket = {};
      for (let i = 0; i < 3; i++) {
        const answer = keys.authenticateOn(socket, bearer(WRITER.key), 'ledger:write');
        expect(answer.ok && answer.client.name).toBe('media-svc');
      }
    });

    it('still checks the scope of every request of the connection', () => {
      const keys = registry();
      const socket = {};
      expect(keys.authenticateOn(socket, bearer(READER.key), 'ledger:read').ok).toBe(true);
      expect(keys.authenticateOn(socket, bearer(READER.key), 'ledger:write')).toMatchObject({
        ok: false,
        failure: 'forbidden',
      });
    });

    it('never lets a later header ride on the key an earlier one proved, however close it is', () => {
      const keys = registry();
      const socket = {};
      expect(keys.authenticateOn(socket, bearer(WRITER.key), 'ledger:write').ok).toBe(true);
      const lastCharChanged = bearer(`${WRITER.key.slice(0, -1)}x`);
      const prefixOnly = bearer(WRITER.key.slice(0, -1));
      for (const header of [lastCharChanged, prefixOnly, `${bearer(WRITER.key)}x`, undefined]) {
        expect(keys.authenticateOn(socket, header, 'ledger:write')).toMatchObject({
          ok: false,
          failure: 'unauthenticated',
        });
      }
      // A proxy's connection carrying another caller: that caller's own key decides, not the previous one.
      const other = keys.authenticateOn(socket, bearer(READER.key), 'ledger:read');
      expect(other.ok && other.client.name).toBe('dashboard');
      expect(keys.authenticateOn(socket, bearer(READER.key), 'ledger:write').ok).toBe(false);
    });

    it('keeps connections apart, and treats a request without one as authenticate does', () => {
      const keys = registry();
      expect(keys.authenticateOn({}, bearer(WRITER.key), 'ledger:write').ok).toBe(true);
      expect(keys.authenticateOn({}, bearer('k-nobody'), 'ledger:read').ok).toBe(false);
      expect(keys.authenticateOn(undefined, bearer(WRITER.key), 'ledger:write').ok).toBe(true);
      expect(keys.authenticateOn(null, bearer('k-nobody'), 'ledger:read')).toMatchObject({
        failure: 'unauthenticated',
      });
    });
  });
});

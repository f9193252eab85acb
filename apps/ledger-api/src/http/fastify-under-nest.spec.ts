import { AsyncResource } from 'node:async_hooks';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';

/**
 * The Fastify that Nest's adapter loads, not whichever the test would resolve: `package.json` overrides the
 * version Nest pins (docs/architecture.md, "Why Fastify").
 */
function fastifyUnderNest(): (options: object) => FastifyInstance {
  const fromAdapter = createRequire(require.resolve('@nestjs/platform-fastify'));
  return fromAdapter('fastify') as (options: object) => FastifyInstance;
}

describe('the Fastify under Nest', () => {
  it('parses a JSON body without AsyncResource.bind, which costs two deprecated accessors per call on Node 20', async () => {
    const app = fastifyUnderNest()({ logger: false });
    app.post('/v1/check', (request) => ({ echoed: request.body }));
    await app.ready();
    const bind = jest.spyOn(AsyncResource.prototype, 'bind');
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/check',
        headers: { 'content-type': 'application/json' },
        payload: '{"userId":"user-bob","deviceId":"cam-7f3a"}',
      });
      expect(response.json()).toEqual({ echoed: { userId: 'user-bob', deviceId: 'cam-7f3a' } });
      expect(bind).not.toHaveBeenCalled();
    } finally {
      bind.mockRestore();
      await app.close();
    }
  });
});

import { startLedger, uniqueIds, type LedgerTestApp } from '../../../test/support/ledger-test-app';

describe('operability: OpenAPI, metrics, health', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('serves the OpenAPI document with every contract route and the bearer scheme, and the UI', async () => {
    const doc = await ledger.http('GET', '/docs-json', undefined, { authorization: '' });
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.body.paths);
    for (const route of [
      '/v1/devices',
      '/v1/devices/{deviceId}/grants',
      '/v1/devices/{deviceId}/revocations',
      '/v1/devices/{deviceId}/transfers',
      '/v1/devices/{deviceId}/decommission',
      '/v1/devices/{deviceId}/access',
      '/v1/views',
      '/v1/views/batch',
      '/v1/media/authorize',
      '/v1/check',
      '/v1/check/bulk',
      '/v1/users/{userId}/devices',
      '/v1/projection',
      '/v1/watch',
      '/health',
    ]) {
      expect(paths).toContain(route);
    }
    expect(doc.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.body.components.schemas.ViewDto.properties.mediaType.enum).toEqual([
      'thumbnail',
      'event_video',
      'live_stream',
    ]);
    for (const [path, operations] of Object.entries(doc.body.paths as Record<string, Record<string, any>>)) {
      if (!path.startsWith('/v1/') || path === '/v1/watch') continue;
      for (const [method, operation] of Object.entries(operations)) {
        const examples = Object.values(operation.responses as Record<string, any>).filter(
          (response) => response.content?.['application/json']?.schema?.example !== undefined,
        );
        expect([`${method} ${path}`, examples.length > 0]).toEqual([`${method} ${path}`, true]);
      }
    }
    const ui = await fetch(`${ledger.baseUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger-ui/i);
  });

  it('exposes Prometheus metrics for requests, decisions, appends and projection lag', async () => {
    const id = uniqueIds('metrics');
    await ledger.client.registerDevice({ deviceId: id('cam'), ownerId: id('o'), actor: 'svc:p' });
    await ledger.client.check({ userId: id('o'), deviceId: id('cam') });
    const missing = await fetch(`${ledger.baseUrl}/v1/no-such-route`);
    expect(missing.status).toBe(404);
    const scrape = await fetch(`${ledger.baseUrl}/metrics`);
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toMatch(
      /ledger_http_request_duration_seconds_count\{method="POST",route="\/v1\/devices",status="201"\} \d+/,
    );
    // A hot route (served outside Nest's router) and a request no route matched.
    expect(text).toMatch(
      /ledger_http_request_duration_seconds_count\{method="POST",route="\/v1\/check",status="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /ledger_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="unmatched",status="404"\} [1-9]/,
    );
    expect(text).toMatch(/ledger_check_decisions_total\{endpoint="check",outcome="(allowed|denied)"\} \d+/);
    expect(text).toMatch(/ledger_store_append_duration_seconds_count \d+/);
    expect(text).toMatch(/ledger_projection_lag_events \d+/);
    expect(text).toMatch(/ledger_projection_lag_seconds \d+/);
  });

  it('answers liveness and readiness', async () => {
    const live = await ledger.http('GET', '/health/live', undefined, { authorization: '' });
    expect(live.status).toBe(200);
    const ready = await ledger.http('GET', '/health/ready', undefined, { authorization: '' });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ok',
      info: { store: { status: 'up' }, projection: { status: 'up' } },
    });
  });
});

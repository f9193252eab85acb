/**
 * A views batch is stored as one append, so on EventStoreDB it is bounded by the server's maximum append size.
 * Over it the batch is refused whole with 413 naming the limit and how to raise it: never a 5xx, never part of
 * the batch stored. Runs on a private test server with a small `--max-append-size`, in both suites.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig, ConfigError } from '@ledger/config';
import { comparePositions } from '@ledger/event-store';
import { startEsdbTestServer, type EsdbTestServer } from '@ledger/esdb-test-server';
import { startLedger, uniqueIds, type LedgerTestApp } from '../../../../test/support/ledger-test-app';

const SERVER_LIMIT = 16 * 1024;

const iso = (ms: number) => new Date(ms).toISOString();

describe('POST /v1/views/batch against the event store maximum append size', () => {
  let server: EsdbTestServer;
  const ledgers: LedgerTestApp[] = [];
  const id = uniqueIds('appendsize');

  beforeAll(async () => {
    server = await startEsdbTestServer({ maxAppendSize: SERVER_LIMIT });
  });

  afterAll(async () => {
    for (const ledger of ledgers) await ledger.close();
    await server.stop();
  });

  async function ledgerWithLimit(limit: number | undefined): Promise<LedgerTestApp> {
    const ledger = await startLedger({
      env: {
        EVENTSTORE_CONNECTION_STRING: server.connectionString,
        EVENTSTORE_MAX_APPEND_BYTES: limit === undefined ? undefined : String(limit),
      },
    });
    ledgers.push(ledger);
    return ledger;
  }

  const views = (count: number) => {
    const deviceId = id('cam');
    return Array.from({ length: count }, (_, n) => ({
      viewerId: id(`viewer${n}`),
      deviceId,
      mediaId: `media-${n}`,
      mediaType: 'thumbnail',
      action: 'delivered',
      occurredAt: iso(Date.now() - n),
    }));
  };

  async function refusedWhole(ledger: LedgerTestApp, body: unknown, limit: number) {
    const before = await ledger.head();
    const eventsBefore = server.log.all.length;
    const response = await ledger.http('POST', '/v1/views/batch', body);
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(response.body.message).toContain(`maximum append size of ${limit} bytes`);
    expect(response.body.message).toContain('EVENTSTORE_MAX_APPEND_BYTES');
    expect(response.body.message).toContain('--max-append-size');
    expect(comparePositions(await ledger.head(), before)).toBe(0);
    expect(server.log.all.length).toBe(eventsBefore);
    return response;
  }

  it('refuses a batch over the configured limit with 413 before sending it, and stores the ones under it', async () => {
    const ledger = await ledgerWithLimit(SERVER_LIMIT);
    const calls = server.calls.batchAppendRequests;
    const response = await refusedWhole(ledger, { views: views(200) }, SERVER_LIMIT);
    expect(response.body.message).toMatch(/the write is \d+ bytes as stored/);
    expect(server.calls.batchAppendRequests).toBe(calls);

    const small = await ledger.http('POST', '/v1/views/batch', { views: views(5) });
    expect(small.status).toBe(201);
    expect(small.body).toEqual({ count: 5, token: expect.any(String) });
  });

  it('maps the server refusing a batch (limit configured too high) to the same 413, storing nothing', async () => {
    const ledger = await ledgerWithLimit(1024 * 1024);
    const response = await refusedWhole(ledger, { views: views(200) }, SERVER_LIMIT);
    // Only the server measured it: the answer names the server's limit, not the configured one.
    expect(response.body.message).toMatch(/the write is larger than/);
  });

  it('validates EVENTSTORE_MAX_APPEND_BYTES at start', () => {
    expect(loadConfig({}).eventStoreMaxAppendBytes).toBe(1024 * 1024);
    expect(loadConfig({ EVENTSTORE_MAX_APPEND_BYTES: '65536' }).eventStoreMaxAppendBytes).toBe(65536);
    for (const bad of ['1MiB', '-1', '12', '1.5'])
      expect(() => loadConfig({ EVENTSTORE_MAX_APPEND_BYTES: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ EVENTSTORE_MAX_APPEND_BYTES: 'x' })).toThrow(/EVENTSTORE_MAX_APPEND_BYTES/);
  });
});

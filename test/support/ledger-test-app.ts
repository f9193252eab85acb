import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig, type LedgerConfig } from '@ledger/config';
import { LedgerClient } from '@ledger/client';
import type { EventStore, LogPosition } from '@ledger/event-store';
import { LiveProjection } from '@ledger/projections';
import {
  createLedgerApp,
  type CreatedLedgerApp,
  type CreateLedgerAppOptions,
} from '../../apps/ledger-api/src/create-app';
import { LedgerGrpcServer } from '../../apps/ledger-api/src/grpc/ledger-grpc.server';
import { EVENT_STORE } from '../../apps/ledger-api/src/ledger.providers';

export interface LedgerTestApp {
  /** The Nest application, for tests that reach a provider directly. */
  readonly app: CreatedLedgerApp['app'];
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly client: LedgerClient;
  readonly config: LedgerConfig;
  readonly store: EventStore;
  readonly projection: LiveProjection;
  /** The gRPC API's port when GRPC_PORT was set in `env` ('0': a free one), else null. */
  readonly grpcPort: number | null;
  /** Raw HTTP with the admin key unless `headers.authorization` overrides it. */
  http(
    method: string,
    urlPath: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  head(): Promise<LogPosition>;
  close(): Promise<void>;
}

export function tempDataDir(prefix = 'ledger-e2e-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Starts the real service in-process on a free port. The store is the embedded one in a temp data dir, or
 * EventStoreDB when EVENTSTORE_CONNECTION_STRING is set (the `npm run test:esdb` suite).
 */
export async function startLedger(
  options: {
    dataDir?: string;
    env?: Record<string, string | undefined>;
    app?: CreateLedgerAppOptions;
  } = {},
): Promise<LedgerTestApp> {
  const dataDir = options.dataDir ?? tempDataDir();
  const config = loadConfig({
    LEDGER_DATA_DIR: dataDir,
    EVENTSTORE_CONNECTION_STRING: process.env.EVENTSTORE_CONNECTION_STRING,
    LEDGER_CONSISTENCY_WAIT_MS: '3000',
    LOG_LEVEL: 'error',
    // Heads are signed on demand only, so no background append lands between a test's two reads of the head.
    LEDGER_HEAD_EVERY_EVENTS: '0',
    LEDGER_HEAD_EVERY_SECONDS: '0',
    ...options.env,
  });
  const { app, apiKeys } = await createLedgerApp(config, options.app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const apiKey = apiKeys.keys.find((k) => k.scopes.length === 4)?.key ?? apiKeys.keys[0].key;
  const store = app.get<EventStore>(EVENT_STORE);
  const projection = app.get(LiveProjection);
  return {
    app,
    baseUrl,
    apiKey,
    config,
    store,
    projection,
    grpcPort: app.get(LedgerGrpcServer).port,
    client: new LedgerClient({ baseUrl, apiKey, retries: 0 }),
    async http(method, urlPath, body, headers = {}) {
      const response = await fetch(`${baseUrl}${urlPath}`, {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    head: () => store.headPosition(),
    close: () => app.close(),
  };
}

/** Unique ids per test, so suites can share one EventStoreDB server. */
export function uniqueIds(prefix: string) {
  const run = `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return (name: string) => `${run}-${name}`;
}

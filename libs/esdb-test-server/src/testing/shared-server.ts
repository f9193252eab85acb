import type { EsdbTestServer } from '../esdb-test-server';

/** Where the global setup keeps the shared server for the global teardown (both run in jest's main process). */
const KEY = Symbol.for('ledger.esdbTestServer');

type Holder = { [KEY]?: EsdbTestServer };

export function rememberSharedServer(server: EsdbTestServer): void {
  (globalThis as Holder)[KEY] = server;
}

export function takeSharedServer(): EsdbTestServer | undefined {
  const holder = globalThis as Holder;
  const server = holder[KEY];
  delete holder[KEY];
  return server;
}

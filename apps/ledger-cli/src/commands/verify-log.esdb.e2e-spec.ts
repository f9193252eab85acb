import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import * as fs from 'node:fs';
import { startEsdbTestServer, type EsdbTestServer } from '@ledger/esdb-test-server';
import { openEventStore } from '@ledger/event-store';
import { signTreeHead, TREE_HEADS_STREAM, treeHeadEvent, type TreeHead } from '@ledger/log-integrity';
import { startLedger, tempDataDir, type LedgerTestApp } from '../../../../test/support/ledger-test-app';
import { runCommand } from './cli-test-harness';
import { registerVerifyLogCommand } from './verify-log.command';

/**
 * The tamper cases on the EventStoreDB path: the service and `ledger verify-log` on a log kept by EventStoreDB
 * (a private test server each, so no other test's heads are in it). An attacker with access to the cluster's
 * storage is played by editing the test server's log in place, as `tamper-sqlite-log.ts` edits events.sqlite3.
 */
type ServerEvent = EsdbTestServer['log']['all'][number];

const view = (n: number) => ({
  viewerId: `user-v${n % 5}`,
  deviceId: 'cam-1',
  mediaId: `m-${n}`,
  mediaType: 'thumbnail' as const,
  action: 'delivered' as const,
  occurredAt: '2024-02-16T10:00:00.000Z',
});

interface EsdbLedgerLog {
  readonly server: EsdbTestServer;
  readonly dataDir: string;
  readonly keptHead: TreeHead;
}

const servers: EsdbTestServer[] = [];

/** A ledger on its own test server: a device, a grant, 25 views, a head signed after the first 20. */
async function ledgerOnEsdb(): Promise<EsdbLedgerLog> {
  const server = await startEsdbTestServer();
  servers.push(server);
  const dataDir = tempDataDir('ledger-esdb-verify-');
  const ledger = await start(dataDir, server);
  try {
    await ledger.client.registerDevice({ deviceId: 'cam-1', ownerId: 'user-alice', actor: 'svc:p' });
    await ledger.client.grant('cam-1', { userId: 'user-v1', actor: 'svc:p' });
    await ledger.client.recordViews(Array.from({ length: 20 }, (_unused, n) => view(n)));
    const kept = await ledger.http('POST', '/v1/log/heads');
    expect(kept.status).toBe(201);
    await ledger.client.recordViews(Array.from({ length: 5 }, (_unused, n) => view(100 + n)));
    return { server, dataDir, keptHead: kept.body as TreeHead };
  } finally {
    // Closing waits for the tree state to be written: what the start-up check compares with.
    await ledger.close();
  }
}

function start(dataDir: string, server: EsdbTestServer): Promise<LedgerTestApp> {
  return startLedger({ dataDir, env: { EVENTSTORE_CONNECTION_STRING: server.connectionString } });
}

/** The events the ledger's tree covers, in `$all` order: leaf i is the i-th (system events are no leaves). */
function leaves(server: EsdbTestServer): ServerEvent[] {
  return server.log.all.filter((event) => !event.stream.name.startsWith('$') && !event.type.startsWith('$'));
}

async function verifyLog(log: EsdbLedgerLog, args: string[] = []) {
  const store = await openEventStore({
    dataDir: log.dataDir,
    eventStoreConnectionString: log.server.connectionString,
  });
  try {
    return await runCommand(registerVerifyLogCommand, store, ['verify-log', ...args], {
      dataDir: log.dataDir,
    });
  } finally {
    await store.close();
  }
}

/** The service restarted on the log, once its start-up check is done: readiness and /metrics. */
async function startUpCheck(
  log: EsdbLedgerLog,
): Promise<{ status: number; message: string; metrics: string }> {
  const ledger = await start(log.dataDir, log.server);
  try {
    for (;;) {
      const ready = await ledger.http('GET', '/health');
      const state =
        (ready.body.info ?? ready.body.details)?.logIntegrity?.state ?? ready.body.error?.logIntegrity?.state;
      if (state !== 'verifying') {
        const metrics = await (await fetch(`${ledger.baseUrl}/metrics`)).text();
        return { status: ready.status, message: String(ready.body.message ?? ''), metrics };
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await ledger.close();
  }
}

function foreignSignature(keyId: string) {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { keyId, sign: (text: string) => sign(null, Buffer.from(text), privateKey).toString('base64') };
}

describe('ledger verify-log and the start-up check on EventStoreDB', () => {
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });

  it('passes an intact log, against the recorded state, the heads in it and a kept head (exit 0, ready)', async () => {
    const log = await ledgerOnEsdb();
    const headFile = `${tempDataDir('ledger-esdb-auditor-')}/head.json`;
    fs.writeFileSync(headFile, JSON.stringify(log.keptHead));
    const run = await verifyLog(log, ['--head', headFile]);
    expect(run.stdout).toMatch(/^OK: the log is intact: 28 events, root [0-9a-f]{64}; 1 signed heads match/);
    expect(run.stdout).toMatch(/; 28 leaves match the recorded state; 1 kept heads are prefixes of it/);
    expect(run.exitCode).toBe(0);
    const checked = await startUpCheck(log);
    expect(checked.status).toBe(200);
    expect(checked.metrics).toMatch(/^ledger_log_tampered 0$/m);
  });

  const cases: Array<{ name: string; tamper: (server: EsdbTestServer) => number | null; kind: string }> = [
    {
      name: 'an event edited in the cluster’s storage (a view moved to another viewer)',
      tamper: (server) => {
        const index = 10;
        const data = leaves(server)[index].data;
        const text = Buffer.from(data).toString('utf8');
        const at = text.indexOf('user-v');
        expect(at).toBeGreaterThan(0);
        // Same length, so the bytes are rewritten where they lie.
        data[at + 'user-v'.length] = data[at + 'user-v'.length] === 0x39 ? 0x38 : 0x39;
        return index;
      },
      kind: 'leaf-differs',
    },
    {
      name: 'an event deleted from the cluster’s storage',
      tamper: (server) => {
        const index = 6;
        server.log.all.splice(server.log.all.indexOf(leaves(server)[index]), 1);
        return index;
      },
      kind: 'leaf-differs',
    },
    {
      name: 'the log truncated',
      tamper: (server) => {
        server.log.all.splice(server.log.all.indexOf(leaves(server)[24]));
        return null;
      },
      kind: 'truncated',
    },
  ];

  for (const { name, tamper, kind } of cases) {
    it(`${name}: verify-log exits 1 naming it, and the service starts unready with the reason`, async () => {
      const log = await ledgerOnEsdb();
      const leaf = tamper(log.server);
      const run = await verifyLog(log);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`^TAMPERED \\(${kind}\\)`));
      if (leaf !== null) expect(run.stdout).toMatch(new RegExp(`^TAMPERED \\(${kind}\\) at leaf ${leaf}, `));
      // Without the recorded state, the head signed over the first 20 views still catches an edit before it.
      if (leaf !== null) expect((await verifyLog(log, ['--no-state'])).exitCode).toBe(1);
      const checked = await startUpCheck(log);
      expect(checked.status).toBe(503);
      expect(checked.message).toMatch(new RegExp(`^not ready: logIntegrity \\(${kind}: `));
      expect(checked.metrics).toMatch(/^ledger_log_tampered 1$/m);
    });
  }

  it('a log replaced by another cluster’s, with its own heads: verify-log exits 1 at leaf 0, the service starts unready', async () => {
    const log = await ledgerOnEsdb();
    const other = await ledgerOnEsdb();
    // The data dir (its tree state and key) now points at a cluster holding another log.
    const replaced: EsdbLedgerLog = { ...log, server: other.server };
    const run = await verifyLog(replaced);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/^TAMPERED \(leaf-differs\) at leaf 0, /);
    expect((await verifyLog(replaced, ['--no-state'])).stdout).toMatch(/^TAMPERED \(foreign-head\)/);
    const checked = await startUpCheck(replaced);
    expect(checked.status).toBe(503);
    expect(checked.message).toMatch(/^not ready: logIntegrity \(leaf-differs: leaf 0 /);
    expect(checked.metrics).toMatch(/^ledger_log_tampered 1$/m);
  });

  it('a forged head appended by a client of the cluster: verify-log exits 1 at its leaf, the service starts unready', async () => {
    const log = await ledgerOnEsdb();
    const store = await openEventStore({
      dataDir: log.dataDir,
      eventStoreConnectionString: log.server.connectionString,
    });
    try {
      const forged = signTreeHead(
        log.keptHead.treeSize,
        log.keptHead.rootHash,
        new Date().toISOString(),
        foreignSignature(log.keptHead.keyId),
      );
      await store.append({
        stream: TREE_HEADS_STREAM,
        expectedRevision: 'any',
        events: [treeHeadEvent(forged, randomUUID())],
      });
    } finally {
      await store.close();
    }
    const run = await verifyLog(log);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/^TAMPERED \(forged-head\) at leaf 28, .*signature does not verify/);
    const checked = await startUpCheck(log);
    expect(checked.status).toBe(503);
    expect(checked.message).toMatch(/^not ready: logIntegrity \(forged-head: .*signature does not verify/);
    expect(checked.metrics).toMatch(/^ledger_log_tampered 1$/m);
  });
});

import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openEventStore, type EventStore } from '@ledger/event-store';
import { IntegrityMonitor, signTreeHead, TREE_HEADS_STREAM, treeHeadEvent } from '@ledger/log-integrity';
import { startLedger, tempDataDir, type LedgerTestApp } from '../../../../test/support/ledger-test-app';
import { SqliteLogTamperer } from '../../../../test/support/tamper-sqlite-log';
import { runCommand } from './cli-test-harness';
import { registerHeadCommand, registerProveCommand } from './log-proofs.command';
import { registerVerifyLogCommand } from './verify-log.command';

const view = (n: number) => ({
  viewerId: `user-v${n % 5}`,
  deviceId: 'cam-1',
  mediaId: `m-${n}`,
  mediaType: 'thumbnail' as const,
  action: 'delivered' as const,
  occurredAt: '2024-02-16T10:00:00.000Z',
});

async function verifyLog(dataDir: string, args: string[] = []) {
  const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
  return runCommand(registerVerifyLogCommand, store, ['verify-log', ...args], { dataDir });
}

/** The service on a data dir, once its start-up check of the log is done. */
async function startChecked(dataDir: string, env: Record<string, string> = {}): Promise<LedgerTestApp> {
  const ledger = await startLedger({ dataDir, env });
  for (;;) {
    const ready = await ledger.http('GET', '/health');
    const state =
      (ready.body.info ?? ready.body.details)?.logIntegrity?.state ?? ready.body.error?.logIntegrity?.state;
    if (state !== 'verifying') return ledger;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function copyOf(dataDir: string): string {
  const copy = tempDataDir('ledger-tampered-');
  fs.cpSync(dataDir, copy, { recursive: true });
  return copy;
}

/** A head signed by someone else's key, over whatever tree they like. */
function foreignSigner() {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    keyId: 'ed25519:0123456789abcdef',
    sign: (text: string) => sign(null, Buffer.from(text), privateKey).toString('base64'),
  };
}

/**
 * Another log with a head of its own (signed by another key): a device registered to someone else. With its tree
 * state too (`withState`): a self-consistent fresh tree, all an attacker with the data dir could write.
 */
async function freshLog({ withState }: { withState: boolean }): Promise<string> {
  const fresh = tempDataDir('ledger-fresh-');
  const store: EventStore = await openEventStore({ dataDir: fresh, eventStoreConnectionString: null });
  try {
    const monitor = new IntegrityMonitor(store, {
      dataDir: withState ? fresh : null,
      signer: foreignSigner(),
      key: { keyId: 'ed25519:0123456789abcdef', verify: () => true },
      policy: { everyEvents: 0, everySeconds: 0 },
    });
    monitor.start();
    await store.append({
      stream: 'device-cam-1',
      expectedRevision: 'no_stream',
      events: [
        {
          eventId: randomUUID(),
          type: 'DeviceRegistered',
          data: {
            deviceId: 'cam-1',
            ownerId: 'user-mallory',
            actor: 'svc:p',
            occurredAt: '2024-01-01T00:00:00.000Z',
            recordedAt: '2024-01-01T00:00:00.000Z',
          },
        },
      ],
    });
    await monitor.signHead();
    await monitor.stop();
  } finally {
    await store.close();
  }
  return fresh;
}

/** `dir`'s log (and, when given, its tree state) replaced by `fresh`'s; its key stays. */
function replaceLog(dir: string, fresh: string, { withState }: { withState: boolean }): void {
  for (const file of fs.readdirSync(dir).filter((f) => f.startsWith('events.sqlite3')))
    fs.rmSync(path.join(dir, file));
  for (const file of fs.readdirSync(fresh).filter((f) => f.startsWith('events.sqlite3'))) {
    fs.copyFileSync(path.join(fresh, file), path.join(dir, file));
  }
  if (withState) {
    fs.rmSync(path.join(dir, 'integrity'), { recursive: true, force: true });
    fs.cpSync(path.join(fresh, 'integrity'), path.join(dir, 'integrity'), { recursive: true });
  }
}

describe('ledger verify-log and the service start-up check catch every kind of tampering with events.sqlite3', () => {
  let original: string;
  /** The head an auditor kept: the last one signed. */
  let keptHeadFile: string;
  let headEventPosition: number;
  let viewPositions: number[];

  beforeAll(async () => {
    original = tempDataDir('ledger-verify-log-');
    const ledger = await startLedger({ dataDir: original });
    try {
      await ledger.client.registerDevice({ deviceId: 'cam-1', ownerId: 'user-alice', actor: 'svc:p' });
      await ledger.client.grant('cam-1', { userId: 'user-v1', actor: 'svc:p' });
      await ledger.client.recordViews(Array.from({ length: 20 }, (_unused, n) => view(n)));
      expect((await ledger.http('POST', '/v1/log/heads')).status).toBe(201);
      await ledger.client.recordViews(Array.from({ length: 10 }, (_unused, n) => view(100 + n)));
      const kept = await ledger.http('POST', '/v1/log/heads');
      keptHeadFile = path.join(tempDataDir('ledger-auditor-'), 'head.json');
      fs.writeFileSync(keptHeadFile, JSON.stringify(kept.body));
      await ledger.client.recordViews(Array.from({ length: 5 }, (_unused, n) => view(200 + n)));
    } finally {
      await ledger.close();
    }
    const tamperer = new SqliteLogTamperer(original);
    const rows = tamperer.rows();
    tamperer.close();
    viewPositions = rows.filter((row) => row.type === 'MediaViewed').map((row) => row.position);
    headEventPosition = rows.filter((row) => row.stream === TREE_HEADS_STREAM).at(-1)!.position;
  });

  it('passes an intact log against the recorded state, every head in it and a kept head (exit 0)', async () => {
    const run = await verifyLog(original, ['--head', keptHeadFile]);
    expect(run.stdout).toMatch(/^OK: the log is intact: 39 events, root [0-9a-f]{64}; 2 signed heads match/);
    expect(run.stdout).toMatch(/39 leaves match the recorded state; 1 kept heads are prefixes of it/);
    expect(run.exitCode).toBe(0);
    const ledger = await startChecked(original);
    try {
      expect((await ledger.http('GET', '/health')).status).toBe(200);
    } finally {
      await ledger.close();
    }
    // A restart recomputes the tree but records no leaf twice.
    expect((await verifyLog(original)).stdout).toMatch(/; 39 leaves match the recorded state/);
  });

  const cases: Array<{
    name: string;
    tamper: (t: SqliteLogTamperer) => number | null;
    kind: RegExp;
  }> = [
    {
      name: 'a row edited (a view moved to another viewer)',
      tamper: (t) => {
        t.editData(viewPositions[3], 'viewerId', 'user-mallory');
        return t.leafIndexOf(viewPositions[3]);
      },
      kind: /leaf-differs/,
    },
    {
      // The stored text changes, the value it parses to does not: only a verifier of the bytes as stored sees it.
      name: 'a row edited in its whitespace only',
      tamper: (t) => {
        const row = t.rows().find((r) => r.position === viewPositions[4])!;
        t.setDataText(viewPositions[4], JSON.stringify(JSON.parse(row.data), null, 1));
        return t.leafIndexOf(viewPositions[4]);
      },
      kind: /leaf-differs/,
    },
    {
      name: 'a row deleted',
      tamper: (t) => {
        const at = t.leafIndexOf(viewPositions[5]);
        t.delete(viewPositions[5]);
        return at;
      },
      kind: /leaf-differs/,
    },
    {
      name: 'two rows reordered',
      tamper: (t) => {
        t.swap(viewPositions[7], viewPositions[8]);
        return t.leafIndexOf(viewPositions[7]);
      },
      kind: /leaf-differs/,
    },
    {
      name: 'a row inserted',
      tamper: (t) => {
        const at = t.leafIndexOf(viewPositions[2]);
        t.insertAt(viewPositions[2], {
          event_id: randomUUID(),
          stream: 'views-99',
          revision: 0,
          type: 'MediaViewed',
          data: JSON.stringify(view(999)),
          metadata: null,
        });
        return at;
      },
      kind: /leaf-differs/,
    },
    {
      name: 'the log truncated',
      tamper: (t) => {
        t.truncateAfter(viewPositions[viewPositions.length - 8]);
        return null;
      },
      kind: /truncated/,
    },
  ];

  for (const { name, tamper, kind } of cases) {
    it(`${name}: verify-log exits 1 naming the first differing leaf, and the service starts unready with the reason`, async () => {
      const dir = copyOf(original);
      const tamperer = new SqliteLogTamperer(dir);
      const leaf = tamper(tamperer);
      tamperer.close();

      const run = await verifyLog(dir);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`^TAMPERED \\(${kind.source}\\)`));
      if (leaf !== null) expect(run.stdout).toContain(`at leaf ${leaf}, position lt1.`);

      // Without the recorded state the signed heads still catch it (the truncation only with the kept head).
      const headsOnly = await verifyLog(dir, ['--no-state', '--head', keptHeadFile]);
      expect(headsOnly.exitCode).toBe(1);
      expect(headsOnly.stdout).toMatch(/^TAMPERED \((head-mismatch|head-ahead|truncated)\)/);

      const ledger = await startChecked(dir);
      try {
        const ready = await ledger.http('GET', '/health');
        expect(ready.status).toBe(503);
        expect(ready.body.message).toMatch(new RegExp(`^not ready: logIntegrity \\(${kind.source}: `));
        const metrics = await (await fetch(`${ledger.baseUrl}/metrics`)).text();
        expect(metrics).toMatch(/^ledger_log_tampered 1$/m);
        const head = await ledger.http('GET', '/v1/log/head');
        expect(head.status).toBe(503);
        expect(head.body.message).toMatch(/integrity check/);
      } finally {
        await ledger.close();
      }
    });
  }

  it('a log replaced by a fresh one with its own valid-looking heads: caught by the state, the key and a kept head', async () => {
    const fresh = await freshLog({ withState: false });
    const dir = copyOf(original);
    replaceLog(dir, fresh, { withState: false });
    expect((await verifyLog(dir)).stdout).toMatch(/^TAMPERED \(leaf-differs\) at leaf 0/);
    expect((await verifyLog(dir, ['--no-state'])).stdout).toMatch(
      /^TAMPERED \(foreign-head\).*not the trusted/,
    );
    expect((await verifyLog(dir, ['--no-state', '--head', keptHeadFile])).exitCode).toBe(1);
    const ledger = await startChecked(dir);
    try {
      const ready = await ledger.http('GET', '/health');
      expect(ready.status).toBe(503);
      expect(ready.body.message).toMatch(/^not ready: logIntegrity \(leaf-differs: leaf 0 /);
      expect(await (await fetch(`${ledger.baseUrl}/metrics`)).text()).toMatch(/^ledger_log_tampered 1$/m);
    } finally {
      await ledger.close();
    }
  });

  it('a log replaced together with its tree state by a fresh, self-consistent tree: verify-log refuses its heads; the service catches it by a kept head (LEDGER_KEPT_HEADS)', async () => {
    const dir = copyOf(original);
    replaceLog(dir, await freshLog({ withState: true }), { withState: true });
    // The state now agrees with the log: only the heads' key and a head kept outside the data dir can tell.
    const run = await verifyLog(dir);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/^TAMPERED \(foreign-head\) at leaf 1, .*not the trusted/);
    expect((await verifyLog(dir, ['--no-state', '--head', keptHeadFile])).exitCode).toBe(1);
    const ledger = await startChecked(dir, { LEDGER_KEPT_HEADS: keptHeadFile });
    try {
      const ready = await ledger.http('GET', '/health');
      expect(ready.status).toBe(503);
      expect(ready.body.message).toMatch(
        /^not ready: logIntegrity \(truncated: a kept head signed .* covers 33 events; the log now holds 2/,
      );
      expect(await (await fetch(`${ledger.baseUrl}/metrics`)).text()).toMatch(/^ledger_log_tampered 1$/m);
    } finally {
      await ledger.close();
    }
  });

  it('a service given kept heads starts ready on the log that extends them', async () => {
    const ledger = await startChecked(original, { LEDGER_KEPT_HEADS: keptHeadFile });
    try {
      const ready = await ledger.http('GET', '/health');
      expect(ready.status).toBe(200);
      expect(ready.body.info.logIntegrity).toMatchObject({ state: 'intact' });
    } finally {
      await ledger.close();
    }
  });

  it('a forged head (our key id, a signature that is not ours) is reported by verify-log and the service', async () => {
    const dir = copyOf(original);
    const realHead = JSON.parse(fs.readFileSync(keptHeadFile, 'utf8'));
    const store = await openEventStore({ dataDir: dir, eventStoreConnectionString: null });
    try {
      const forged = signTreeHead(realHead.treeSize, realHead.rootHash, new Date().toISOString(), {
        ...foreignSigner(),
        keyId: realHead.keyId,
      });
      await store.append({
        stream: TREE_HEADS_STREAM,
        expectedRevision: 'any',
        events: [treeHeadEvent(forged, randomUUID())],
      });
    } finally {
      await store.close();
    }
    const run = await verifyLog(dir);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(
      /^TAMPERED \(forged-head\) at leaf 39, position lt1\.\w+: .*signature does not verify/,
    );
    const ledger = await startChecked(dir);
    try {
      const ready = await ledger.http('GET', '/health');
      expect(ready.status).toBe(503);
      expect(ready.body.message).toMatch(/logIntegrity \(forged-head: .*signature does not verify/);
      expect(await (await fetch(`${ledger.baseUrl}/metrics`)).text()).toMatch(/^ledger_log_tampered 1$/m);
    } finally {
      await ledger.close();
    }
  });

  it('exits 2 for unusable input: an unreadable or malformed kept head, a missing key', async () => {
    const bad = path.join(tempDataDir('ledger-bad-head-'), 'head.json');
    fs.writeFileSync(bad, '{"treeSize":"x"}');
    await expect(verifyLog(original, ['--head', bad])).rejects.toThrow(
      /treeSize is not a non-negative integer/,
    );
    await expect(verifyLog(original, ['--head', `${bad}.missing`])).rejects.toThrow(/cannot read/);
    await expect(verifyLog(tempDataDir('ledger-no-key-'))).rejects.toThrow(/no export key/);
  });

  it('ledger head and ledger prove answer from the store what the API answers', async () => {
    const store = () => openEventStore({ dataDir: original, eventStoreConnectionString: null });
    const head = await runCommand(registerHeadCommand, await store(), ['head'], { dataDir: original });
    expect(JSON.parse(head.stdout)).toEqual(JSON.parse(fs.readFileSync(keptHeadFile, 'utf8')));
    const tamperer = new SqliteLogTamperer(original);
    const firstView = tamperer.rows().find((row) => row.type === 'MediaViewed')!;
    tamperer.close();
    const proof = await runCommand(
      registerProveCommand,
      await store(),
      ['prove', 'inclusion', '--event-id', firstView.event_id],
      {
        dataDir: original,
      },
    );
    expect(JSON.parse(proof.stdout)).toMatchObject({ treeSize: 33, auditPath: expect.any(Array) });
    const consistency = await runCommand(
      registerProveCommand,
      await store(),
      ['prove', 'consistency', '--from', '22'],
      {
        dataDir: original,
      },
    );
    expect(JSON.parse(consistency.stdout)).toMatchObject({ fromSize: 22, toSize: 33 });
    expect(headEventPosition).toBeGreaterThan(0);
  });
});

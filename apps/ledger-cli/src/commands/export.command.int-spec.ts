import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidInputError } from '@ledger/domain';
import { openEventStore } from '@ledger/event-store';
import { Streams } from '@ledger/domain';
import { writeSampleHistory } from '../../../../libs/audit-trail/src/testing/ledger-history';
import { UsageError } from '../cli-context';
import { runCommand, type CliRun } from './cli-test-harness';
import { registerExportCommand } from './export.command';
import { registerExportKeyCommand } from './export-key.command';
import type { RegisterCommand } from './index';
import { registerVerifyCommand } from './verify.command';
import { registerHeadCommand } from './log-proofs.command';
import type { Manifest } from '@ledger/audit-trail';
import { TREE_HEADS_STREAM, type TreeHead } from '@ledger/log-integrity';

describe('ledger export / verify / export-key', () => {
  let dataDir: string;
  let otherDataDir: string;
  const file = (name: string): string => path.join(dataDir, name);

  /** Each run opens the data dir's store afresh, as the CLI does; commands close it when done. */
  const run = async (register: RegisterCommand, args: string[], dir = dataDir): Promise<CliRun> => {
    const store = await openEventStore({ dataDir: dir, eventStoreConnectionString: null });
    try {
      return await runCommand(register, store, args, { dataDir: dir, actor: 'cli:auditor' });
    } finally {
      await store.close();
    }
  };

  const headEvents = async (): Promise<number> => {
    const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    try {
      return (await store.readStream(TREE_HEADS_STREAM)).length;
    } finally {
      await store.close();
    }
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-export-'));
    otherDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-export-other-'));
    const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    await writeSampleHistory(store);
    await store.close();
  });
  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(otherDataDir, { recursive: true, force: true });
  });

  it('exports a user trail to a file, records the export, and verifies it with the ledger key', async () => {
    const exported = await run(registerExportCommand, [
      'export',
      '--user',
      'bob',
      '--out',
      file('bob.ndjson'),
    ]);
    expect(exported.exitCode).toBe(0);
    expect(exported.stdout).toBe('');
    expect(exported.stderr).toMatch(
      /^export: 3 records, last hash [0-9a-f]{64}, signed by ed25519:[0-9a-f]{16}; cut at the tree head of size \d+ \(signed now\); recorded at lt1\./,
    );
    expect(fs.readdirSync(dataDir).filter((name) => name.includes('.partial'))).toEqual([]);

    const verified = await run(registerVerifyCommand, ['verify', file('bob.ndjson')]);
    expect(verified.exitCode).toBe(0);
    expect(verified.stdout).toContain('is intact: 3 records (ndjson), filter {"userId":"bob"}');
    expect(verified.stdout).toContain(
      `checked with the ledger's export key (${path.join(dataDir, 'export-key.pem')})`,
    );

    const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    const audit = await store.readStream(Streams.audit, { direction: 'backwards', maxCount: 1 });
    await store.close();
    expect(audit[0]).toMatchObject({
      type: 'AuditTrailExported',
      data: { actor: 'cli:auditor', filter: { userId: 'bob' }, format: 'ndjson', count: 3 },
    });
  });

  it('writes CSV to stdout (or when --out ends in .csv), and both verify with only the public key', async () => {
    const stdout = await run(registerExportCommand, ['export', '--device', 'cam1', '--format', 'csv']);
    expect(stdout.exitCode).toBe(0);
    expect(stdout.stdout.split('\n', 1)[0]).toMatch(/^seq,position,eventId,stream,type,/);
    fs.writeFileSync(file('cam1-stdout.csv'), stdout.stdout);
    await run(registerExportCommand, [
      'export',
      '--device',
      'cam1',
      '--from',
      '2024-02-16T09:00:30Z',
      '--out',
      file('cam1.csv'),
    ]);
    expect(fs.readFileSync(file('cam1.csv'), 'utf8')).toMatch(/^seq,position,/);

    const key = await run(registerExportKeyCommand, ['export-key', '--public']);
    expect(key.exitCode).toBe(0);
    expect(key.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    expect(key.stdout).not.toContain('PRIVATE');
    fs.writeFileSync(file('ledger.pub.pem'), key.stdout);

    for (const name of ['cam1-stdout.csv', 'cam1.csv']) {
      // Verified from another data dir: nothing but the public key file is trusted.
      const verified = await run(
        registerVerifyCommand,
        ['verify', file(name), '--public-key', file('ledger.pub.pem')],
        otherDataDir,
      );
      expect(verified.exitCode).toBe(0);
      expect(verified.stdout).toContain(`checked with the public key in ${file('ledger.pub.pem')}`);
    }
    expect(fs.existsSync(path.join(otherDataDir, 'export-key.pem'))).toBe(false);
  });

  it('exit 1 naming the record and line for a tampered export; exit 1 for another key', async () => {
    await run(registerExportCommand, ['export', '--device', 'cam1', '--out', file('cam1.ndjson')]);
    const lines = fs.readFileSync(file('cam1.ndjson'), 'utf8').split('\n');
    // Each record is followed by its inclusion proof: record 4 is on line 7.
    const original = lines[6];
    lines[6] = original.replace('"viewerId":"mallory"', '"viewerId":"nobody"');
    expect(lines[6]).not.toBe(original);
    fs.writeFileSync(file('cam1-edited.ndjson'), lines.join('\n'));
    const tampered = await run(registerVerifyCommand, ['verify', file('cam1-edited.ndjson')]);
    expect(tampered.exitCode).toBe(1);
    expect(tampered.stdout).toMatch(
      /^FAILED \(tampered\) at record 4, line 7: .*record 4 \(line 7\) was altered/,
    );

    const otherKey = await run(registerExportKeyCommand, ['export-key', '--public'], otherDataDir);
    fs.writeFileSync(file('other.pub.pem'), otherKey.stdout);
    const wrongKey = await run(registerVerifyCommand, [
      'verify',
      file('cam1.ndjson'),
      '--public-key',
      file('other.pub.pem'),
    ]);
    expect(wrongKey.exitCode).toBe(1);
    expect(wrongKey.stdout).toMatch(/^FAILED \(bad_signature\) at line 23: /);

    const embedded = await run(
      registerVerifyCommand,
      ['verify', file('cam1.ndjson'), '--trust-embedded-key'],
      otherDataDir,
    );
    expect(embedded.exitCode).toBe(0);
    expect(embedded.stderr).toContain('does not show who signed it');
  });

  it('cuts at a signed head: reuses one that covers the log, else signs one; every record carries its proof', async () => {
    const signed = await run(registerHeadCommand, ['head', '--sign']);
    expect(signed.exitCode).toBe(0);
    const head = JSON.parse(signed.stdout) as TreeHead;
    const headsBefore = await headEvents();
    const reused = await run(registerExportCommand, [
      'export',
      '--device',
      'cam1',
      '--out',
      file('cut.ndjson'),
    ]);
    expect(reused.stderr).toContain(`cut at the tree head of size ${head.treeSize}; recorded at`);
    expect(await headEvents()).toBe(headsBefore);
    const text = fs.readFileSync(file('cut.ndjson'), 'utf8');
    const manifest = (JSON.parse(text.trim().split('\n').pop()!) as { manifest: Manifest }).manifest;
    expect(manifest).toMatchObject({ treeHead: head, proofs: 'inclusion' });
    expect(text.match(/^\{"inclusion":/gm)).toHaveLength(manifest.count);
    expect((await run(registerVerifyCommand, ['verify', file('cut.ndjson')])).exitCode).toBe(0);

    // That export was recorded (AuditTrailExported): the head no longer covers the log, so the next signs one.
    const fresh = await run(registerExportCommand, ['export', '--device', 'cam1', '--format', 'csv']);
    expect(fresh.stderr).toMatch(/cut at the tree head of size \d+ \(signed now\)/);
    expect(await headEvents()).toBe(headsBefore + 1);
    fs.writeFileSync(file('cut.csv'), fresh.stdout);
    expect((await run(registerVerifyCommand, ['verify', file('cut.csv')])).exitCode).toBe(0);
  });

  it('exit 2 for a file that is not an export; usage errors for a missing file or key', async () => {
    fs.writeFileSync(file('notes.txt'), 'dear diary\n');
    const notExport = await run(registerVerifyCommand, ['verify', file('notes.txt')]);
    expect(notExport.exitCode).toBe(2);
    expect(notExport.stderr).toContain('is not an audit trail export');
    await expect(run(registerVerifyCommand, ['verify', file('missing.ndjson')])).rejects.toThrow(UsageError);
    // No --public-key and no ledger key in that data dir: nothing to check against, and none is invented.
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-export-fresh-'));
    await expect(run(registerVerifyCommand, ['verify', file('bob.ndjson')], fresh)).rejects.toThrow(
      /--public-key/,
    );
    expect(fs.existsSync(path.join(fresh, 'export-key.pem'))).toBe(false);
    fs.rmSync(fresh, { recursive: true, force: true });
    await expect(
      run(registerVerifyCommand, ['verify', file('bob.ndjson'), '--public-key', file('notes.txt')]),
    ).rejects.toThrow(UsageError);
    await expect(
      run(registerVerifyCommand, [
        'verify',
        file('bob.ndjson'),
        '--public-key',
        file('x'),
        '--trust-embedded-key',
      ]),
    ).rejects.toThrow(UsageError);
  });

  it('usage errors for export without a subject, a bad format, a bad time; export-key without --public', async () => {
    await expect(run(registerExportCommand, ['export'])).rejects.toThrow(UsageError);
    await expect(run(registerExportCommand, ['export', '--user', 'bob', '--format', 'xml'])).rejects.toThrow(
      UsageError,
    );
    await expect(
      run(registerExportCommand, ['export', '--user', 'bob', '--from', 'yesterday']),
    ).rejects.toThrow(InvalidInputError);
    await expect(run(registerExportCommand, ['export', '--device', 'bad id'])).rejects.toThrow(
      InvalidInputError,
    );
    await expect(run(registerExportKeyCommand, ['export-key'])).rejects.toThrow(UsageError);
  });
});

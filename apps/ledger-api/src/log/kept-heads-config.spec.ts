import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '@ledger/config';
import { readKeptHeadsFile } from './log-integrity.providers';

describe('LEDGER_KEPT_HEADS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-kept-heads-'));
  const head = {
    treeSize: 3,
    rootHash: 'a'.repeat(64),
    timestamp: '2024-02-16T10:00:00.000Z',
    keyId: 'ed25519:0123456789abcdef',
    signature: Buffer.alloc(64, 7).toString('base64'),
  };

  it('is a path resolved at start-up, or none', () => {
    expect(loadConfig({}).keptHeadsFile).toBeNull();
    expect(loadConfig({ LEDGER_KEPT_HEADS: 'heads.ndjson' }).keptHeadsFile).toBe(
      path.resolve('heads.ndjson'),
    );
  });

  it('reads one head as JSON or several as NDJSON, as `ledger head` prints them', () => {
    const one = path.join(dir, 'one.json');
    fs.writeFileSync(one, JSON.stringify(head, null, 2));
    expect(readKeptHeadsFile(one)).toEqual([head]);
    const two = path.join(dir, 'two.ndjson');
    fs.writeFileSync(two, `${JSON.stringify(head)}\n${JSON.stringify({ ...head, treeSize: 5 })}\n`);
    expect(readKeptHeadsFile(two).map((h) => h.treeSize)).toEqual([3, 5]);
  });

  it('stops the service, naming the setting and the file, when the file is missing or holds no valid head', () => {
    expect(() => readKeptHeadsFile(path.join(dir, 'missing.json'))).toThrow(
      /^LEDGER_KEPT_HEADS: cannot read .*missing\.json: ENOENT$/,
    );
    const bad = path.join(dir, 'bad.ndjson');
    fs.writeFileSync(bad, `${JSON.stringify(head)}\n${JSON.stringify({ ...head, treeSize: -1 })}\n`);
    expect(() => readKeptHeadsFile(bad)).toThrow(/^LEDGER_KEPT_HEADS: .*bad\.ndjson line 2: treeSize/);
    const empty = path.join(dir, 'empty.json');
    fs.writeFileSync(empty, '\n');
    expect(() => readKeptHeadsFile(empty)).toThrow(/holds no tree head/);
  });
});

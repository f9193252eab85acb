import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DataDirLockedError, lockDataDir, type DataDirLock } from '../data-dir-lock';
import { HOLDER_FILE } from './data-dir-lock';

const root = path.resolve(__dirname, '..', '..', '..', '..');

describe('the data dir lock (one service per data dir)', () => {
  let dataDir: string;
  const held: DataDirLock[] = [];

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-lock-'));
  });
  afterEach(() => {
    for (const lock of held.splice(0)) lock.release();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a second holder, naming the first by pid, host and start time; free again once released', async () => {
    const first = await lockDataDir(dataDir, 'ledger-api');
    held.push(first);
    expect(first.tookOverFrom).toBeNull();
    const refused = await lockDataDir(dataDir, 'ledger-api').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DataDirLockedError);
    const { message } = refused as Error;
    expect(message).toContain(dataDir);
    expect(message).toContain(`pid ${process.pid} on host ${os.hostname()}`);
    expect(message).toContain(`started ${first.holder.startedAt}`);

    first.release();
    expect(fs.existsSync(path.join(dataDir, HOLDER_FILE))).toBe(false);
    const second = await lockDataDir(dataDir, 'ledger-api');
    held.push(second);
    expect(second.tookOverFrom).toBeNull();
  });

  it('takes over the lock of a process killed with -9, and says whose it was', async () => {
    const holder = spawn(
      process.execPath,
      [
        '-r',
        './test/support/register-ts.js',
        '-e',
        `require('./libs/event-store/src/data-dir-lock').lockDataDir(${JSON.stringify(dataDir)}, 'holder')` +
          `.then(() => { process.stdout.write('locked\\n'); setInterval(() => undefined, 1000); })`,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
      holder.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
    });
    const refused = await lockDataDir(dataDir, 'ledger-api').catch((error: unknown) => error);
    expect((refused as Error).message).toContain(`pid ${holder.pid} `);

    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    const taken = await lockDataDir(dataDir, 'ledger-api');
    held.push(taken);
    expect(taken.tookOverFrom).toMatchObject({ pid: holder.pid, program: 'holder' });
    expect(taken.holder.pid).toBe(process.pid);
  });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { NonBlockingLogDestination } from './non-blocking-log-destination';

describe('NonBlockingLogDestination', () => {
  const fds: number[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const fd of fds.splice(0)) fs.closeSync(fd);
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const tempFile = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-log-'));
    dirs.push(dir);
    return path.join(dir, 'out.log');
  };

  it('writes every line, in order, and drain leaves nothing queued', async () => {
    const file = tempFile();
    const fd = fs.openSync(file, 'w');
    fds.push(fd);
    const destination = new NonBlockingLogDestination(fd);
    const lines = Array.from({ length: 5000 }, (_, i) => `{"line":${i}}\n`);
    for (const line of lines) destination.write(line);
    await destination.drain(10_000);
    expect(fs.readFileSync(file, 'utf8')).toBe(lines.join(''));
    expect(destination.stats).toEqual({ written: 5000, dropped: 0, lastError: null });
  });

  it('on a device that refuses every write (ENOSPC), drops and counts the lines and never blocks', async () => {
    const fd = fs.openSync('/dev/full', 'w');
    fds.push(fd);
    const destination = new NonBlockingLogDestination(fd);
    for (let i = 0; i < 1000; i++) destination.write(`{"line":${i}}\n`);
    await destination.drain(10_000);
    destination.write('{"last":true}\n');
    await destination.drain(10_000);
    expect(destination.stats.written).toBe(0);
    expect(destination.stats.dropped).toBe(1001);
    expect(destination.stats.lastError).toMatch(/ENOSPC/);
  });

  it('drops lines beyond its queue bound instead of growing', () => {
    const fd = fs.openSync(tempFile(), 'w');
    fds.push(fd);
    const destination = new NonBlockingLogDestination(fd, 1000);
    // The first line goes straight to a write in flight; the next fill the queue to its bound.
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 50; i++) destination.write(line);
    expect(destination.stats.dropped).toBe(50 - 1 - 10);
  });

  it('at exit never waits behind a write in flight: what is queued behind it is counted as dropped', () => {
    const fd = fs.openSync(tempFile(), 'w');
    fds.push(fd);
    const destination = new NonBlockingLogDestination(fd);
    destination.write('first\n');
    destination.write('second\n');
    destination.flushSync();
    expect(destination.stats.dropped).toBe(1);
  });
});

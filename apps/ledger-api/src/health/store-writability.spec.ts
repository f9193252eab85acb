import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConcurrencyError, InvalidAppendError, StoreUnavailableError } from '@ledger/event-store';
import { APPEND_FAILURE_HOLD_MS, StoreWritability } from './store-writability';

describe('StoreWritability (readiness: can the store write?)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-writable-'));
    dirs.push(dir);
    return dir;
  };

  it('is writable when the probe writes, and leaves no probe file behind', async () => {
    const dir = dataDir();
    expect(await new StoreWritability(dir).check()).toEqual({ ok: true });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('names the failing append until one succeeds, or until the hold is over and the probe decides', async () => {
    let now = 1_000_000;
    const writability = new StoreWritability(dataDir(), () => now);
    writability.appendFailed(new StoreUnavailableError('appending failed: database or disk is full'));
    expect(await writability.check()).toEqual({
      ok: false,
      reason: 'the last append failed: appending failed: database or disk is full',
    });
    writability.appendSucceeded();
    expect(await writability.check()).toEqual({ ok: true });

    writability.appendFailed(new StoreUnavailableError('appending failed: disk I/O error'));
    now += APPEND_FAILURE_HOLD_MS;
    expect(await writability.check()).toEqual({ ok: true });
  });

  it('does not take a refused request for a store that cannot write', async () => {
    const writability = new StoreWritability(dataDir());
    writability.appendFailed(new ConcurrencyError('device-cam-1', '3', '4'));
    writability.appendFailed(new InvalidAppendError('append to s: no events'));
    expect(await writability.check()).toEqual({ ok: true });
  });

  it('reports a data dir it cannot write to, with the reason', async () => {
    const missing = path.join(dataDir(), 'gone', 'deeper');
    const result = await new StoreWritability(missing).check();
    expect(result).toMatchObject({ ok: false });
    expect((result as { reason: string }).reason).toContain(`cannot write to the data dir ${missing}: ENOENT`);
  });
});

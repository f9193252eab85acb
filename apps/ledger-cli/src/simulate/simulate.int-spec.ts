import { spawn } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..', '..');

/** The real command line, from the TypeScript sources, in a child process. */
function ledger(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', './test/support/register-ts.js', 'apps/ledger-cli/src/main.ts', ...args],
      { cwd: root, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ledger simulate', () => {
  it('detects exactly the exposures a faulty cache caused, while the verification layer exposes nobody', async () => {
    const run = await ledger([
      'simulate',
      '--devices',
      '200',
      '--users',
      '300',
      '--fault-rate',
      '0.05',
      '--seed',
      '11',
      '--concurrency',
      '16',
      '--json',
    ]);
    // No progress bars (stderr is not a terminal) and nothing went wrong.
    expect(run.stderr).not.toMatch(/error|\u2588/i);
    const lines = run.stdout.trimEnd().split('\n');
    const result = JSON.parse(lines[lines.length - 1]);
    expect(result.injected).toBeGreaterThan(0);
    expect(result).toMatchObject({
      detected: result.injected,
      falsePositives: 0,
      falseNegatives: 0,
      attributionMismatches: 0,
      summaryMatches: true,
      viewsExaminedMatches: true,
      authorizePathExposures: 0,
      authorizePathReplayExposures: 0,
      authorizePathWrongDenials: 0,
      authorizePathReasonMismatches: 0,
      exact: true,
      ok: true,
    });
    expect(result.viewsRecorded).toBeGreaterThan(result.injected);
    expect(result.authorizeDenied).toBe(result.wrongDeliveries);
    expect(result.report.exposures).toBe(result.injected);
    expect(typeof result.durationMs).toBe('number');
    expect(run.stdout).toContain('EXACT');
    expect(run.code).toBe(0);
  }, 180_000);

  it('refuses a fault rate outside [0, 1] as a usage error', async () => {
    const run = await ledger(['simulate', '--devices', '10', '--fault-rate', '1.5']);
    expect(run.stderr).toContain('--fault-rate');
    expect(run.code).toBe(2);
  }, 60_000);
});

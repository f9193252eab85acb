import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError, Streams } from '@ledger/domain';
import { HistoryBuilder } from '../../../../libs/replay/src/testing/history-builder';
import { InMemoryEventStore } from '../../../../libs/replay/src/testing/in-memory-event-store';
import { ExitCode, UsageError } from '../cli-context';
import { runCommand } from './cli-test-harness';
import { registerReplayCommand, reportFormat } from './replay.command';

const T = (minute: number): number => Date.UTC(2024, 1, 16, 9, minute);

async function ledger(withExposure: boolean): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore();
  const h = new HistoryBuilder().register('cam-1', 'alice', T(0)).register('cam-2', 'bob', T(0));
  h.view('alice', 'cam-1', T(5));
  if (withExposure) h.view('mallory', 'cam-2', T(6), { action: 'opened' });
  await h.appendTo(store);
  return store;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-replay-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ledger replay', () => {
  it('prints the JSON report, records the replay and exits 1 when there are exposures', async () => {
    const store = await ledger(true);
    const run = await runCommand(registerReplayCommand, store, ['replay', '--from', '2024-02-16T09:00:00Z'], {
      actor: 'cli:alice',
    });
    const report = JSON.parse(run.stdout);
    expect(report.summary).toMatchObject({ viewsExamined: 2, exposures: 1, viewersOpened: 1 });
    expect(report.window).toEqual({ from: '2024-02-16T09:00:00.000Z', to: null });
    expect(run.exitCode).toBe(ExitCode.findings);
    expect(run.stderr).toContain('1 exposures');
    const [recorded] = await store.readStream(Streams.audit);
    expect(recorded.type).toBe('IncidentReplayed');
    expect(recorded.data).toMatchObject({ actor: 'cli:alice', digest: report.digest, exposures: 1 });
  });

  it('exits 0 when nothing was exposed', async () => {
    const run = await runCommand(registerReplayCommand, await ledger(false), ['replay']);
    expect(JSON.parse(run.stdout).summary.exposures).toBe(0);
    expect(run.exitCode).toBe(ExitCode.ok);
  });

  it('narrows by repeated or comma-separated --device and --viewer', async () => {
    const store = await ledger(true);
    const run = await runCommand(registerReplayCommand, store, [
      'replay',
      '--device',
      'cam-1',
      '--device',
      'cam-3,cam-4',
      '--viewer',
      'alice',
    ]);
    expect(JSON.parse(run.stdout).summary).toMatchObject({ viewsExamined: 1, exposures: 0 });
    const [recorded] = await store.readStream(Streams.audit);
    expect(recorded.data).toMatchObject({ deviceIds: ['cam-1', 'cam-3', 'cam-4'], viewerIds: ['alice'] });
  });

  it('writes --out in the format its extension names, or the one --format names', async () => {
    const store = await ledger(true);
    const html = join(dir, 'report.html');
    const run = await runCommand(registerReplayCommand, store, ['replay', '--out', html]);
    expect(run.stdout).toBe('');
    expect(readFileSync(html, 'utf8')).toMatch(/^<!DOCTYPE html>/);
    const csv = join(dir, 'report.txt');
    await runCommand(registerReplayCommand, store, ['replay', '--format', 'csv', '--out', csv]);
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toBe(
      'eventId,occurredAt,viewerId,deviceId,ownerId,mediaId,mediaType,action,reason',
    );
    const md = await runCommand(registerReplayCommand, store, ['replay', '--format', 'md']);
    expect(md.stdout).toMatch(/^# Incident replay report/);
  });

  it('refuses bad input as usage errors (exit 2) and records nothing', async () => {
    const store = await ledger(true);
    await expect(
      runCommand(registerReplayCommand, store, ['replay', '--format', 'xml']),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(
      runCommand(registerReplayCommand, store, ['replay', '--from', 'yesterday']),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      runCommand(registerReplayCommand, store, ['replay', '--device', 'a/b']),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await store.readStream(Streams.audit)).toEqual([]);
  });

  it('picks the format from --format, then the extension, then JSON', () => {
    expect(reportFormat('md', 'x.html')).toBe('md');
    expect(reportFormat(undefined, 'Report.HTML')).toBe('html');
    expect(reportFormat(undefined, 'x.markdown')).toBe('md');
    expect(reportFormat(undefined, 'x.out')).toBe('json');
    expect(reportFormat(undefined, undefined)).toBe('json');
  });
});

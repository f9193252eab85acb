import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import type { RecordedEvent } from '../event-store.port';
import { START, type LogPosition } from '../position';
import { SqliteEventStore } from './sqlite-event-store';

const WRITER = path.join(__dirname, 'testing-fixtures', 'crash-writer.js');

interface StormReport {
  /** Every append the child issued, as its event ids; acknowledged ones are marked. */
  readonly appends: Map<string, { ids: string[]; acked: boolean }>;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/**
 * Runs the writer until it has acknowledged `acksBeforeKill` appends, then — after `killDelayMs`, so that
 * successive runs hit different moments of a group commit — kills it with SIGKILL.
 */
function runStormAndKill(
  dataDir: string,
  acksBeforeKill: number,
  killDelayMs: number,
  writer: 'inline' | 'thread',
): Promise<StormReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dataDir, '64', '24', writer], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const appends = new Map<string, { ids: string[]; acked: boolean }>();
    let acks = 0;
    let killed = false;
    let pending = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, ids] = line.split(' ');
        if (kind === 'begin') appends.set(ids, { ids: ids.split(','), acked: false });
        if (kind === 'ack') {
          const append = appends.get(ids);
          if (append === undefined) {
            child.kill('SIGKILL');
            reject(new Error(`the writer acknowledged an append it never began: ${ids}`));
            return;
          }
          append.acked = true;
          acks++;
        }
      }
      if (!killed && acks >= acksBeforeKill) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), killDelayMs);
      }
    });
    child.on('error', reject);
    // 'close', not 'exit': lines still in the pipe when the child died must be read too.
    child.on('close', (code, signal) => {
      if (!killed) reject(new Error(`writer exited on its own (code ${code}): ${stderr}`));
      else resolve({ appends, signal, stderr });
    });
  });
}

async function readAllEvents(store: SqliteEventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let from: LogPosition = START;
  for (;;) {
    const page = await store.readAll({ from, direction: 'forwards', maxCount: 5000 });
    events.push(...page.events);
    if (page.isEnd) return events;
    from = page.next as LogPosition;
  }
}

// Inline: commits on the store's own connection; thread: on the writer thread, as the service runs them.
describe.each(['inline', 'thread'] as const)(
  'SqliteEventStore (%s commits) after a kill -9 in the middle of group commits',
  (writer) => {
    let dataDir: string;

    beforeEach(() => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-crash-'));
    });

    afterEach(() => {
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('keeps every acknowledged append, and every append whole or not at all, across repeated crashes', async () => {
      const issued = new Map<string, { ids: string[]; acked: boolean }>();
      let inFlightAtKills = 0;
      for (const killDelayMs of [0, 3, 11]) {
        const report = await runStormAndKill(dataDir, 1000, killDelayMs, writer);
        expect(report.signal).toBe('SIGKILL');
        for (const [key, append] of report.appends) {
          issued.set(key, append);
          if (!append.acked) inFlightAtKills++;
        }

        const check = new Database(path.join(dataDir, 'events.sqlite3'));
        try {
          expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
        } finally {
          check.close();
        }

        const store = SqliteEventStore.open({ dataDir });
        try {
          const events = await readAllEvents(store);
          const stored = new Set(events.map((event) => event.eventId));
          expect(stored.size).toBe(events.length);

          let torn = 0;
          let lost = 0;
          for (const append of issued.values()) {
            const present = append.ids.filter((id) => stored.has(id)).length;
            if (present !== 0 && present !== append.ids.length) torn++;
            if (append.acked && present !== append.ids.length) lost++;
          }
          expect({ killDelayMs, torn, lost }).toEqual({ killDelayMs, torn: 0, lost: 0 });
          const issuedIds = new Set([...issued.values()].flatMap((append) => append.ids));
          expect(events.filter((event) => !issuedIds.has(event.eventId))).toEqual([]);

          // Recovery leaves no hole in any stream: revisions run 0..n-1.
          const revisionsByStream = new Map<string, bigint[]>();
          for (const event of events) {
            const revisions = revisionsByStream.get(event.stream) ?? [];
            revisions.push(event.revision);
            revisionsByStream.set(event.stream, revisions);
          }
          for (const [stream, revisions] of revisionsByStream) {
            expect({ stream, revisions }).toEqual({ stream, revisions: revisions.map((_, i) => BigInt(i)) });
          }
        } finally {
          await store.close();
        }
      }
      // Each kill landed mid-storm, with appends still waiting for their commit.
      expect(inFlightAtKills).toBeGreaterThanOrEqual(3);

      const store = SqliteEventStore.open({ dataDir });
      try {
        const last = (await store.readStream('crash-0', { direction: 'backwards', maxCount: 1 }))[0];
        const next = await store.append({
          stream: 'crash-0',
          events: [{ eventId: '6f1c8b2e-1a4d-4c3e-9b7a-2d5e8f0a1b3c', type: 'after-crash', data: {} }],
          expectedRevision: last.revision,
        });
        expect(next.nextExpectedRevision).toBe(last.revision + 1n);
      } finally {
        await store.close();
      }
    }, 180_000);
  },
);

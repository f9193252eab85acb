import * as fs from 'node:fs';
import * as path from 'node:path';
import { importNdjsonFile, StoreLedgerWriter } from '@ledger/application';
import { formatTime, type DeviceEvent } from '@ledger/domain';
import type { NewEvent } from '@ledger/event-store';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { deviceHistory, viewEvents, viewInput, type FleetShape } from '../lib/fixtures';
import { paired, perSecond, result, timeIt } from '../lib/stats';
import type { Suite } from '../lib/types';
import { throughStore } from './ingest-embedded';

/** The bench's fleet shape (owner and two viewers per device, every tenth first viewer revoked). */
const SHAPE: FleetShape = { devices: 100_000, users: 200_000, viewersPerDevice: 2, revokeEvery: 10 };
const BATCH = 1000;

/** An import line for a decided device event: the op and the fields of the matching HTTP body. */
function ownershipLine(event: DeviceEvent): string {
  const at = (ms: number) => formatTime(ms);
  switch (event.type) {
    case 'DeviceRegistered':
      return JSON.stringify({
        op: 'register',
        deviceId: event.data.deviceId,
        ownerId: event.data.ownerId,
        actor: event.data.actor,
        occurredAt: at(Date.parse(event.data.occurredAt)),
      });
    case 'AccessGranted':
      return JSON.stringify({
        op: 'grant',
        deviceId: event.data.deviceId,
        userId: event.data.userId,
        actor: event.data.actor,
        occurredAt: event.data.occurredAt,
      });
    case 'AccessRevoked':
      return JSON.stringify({
        op: 'revoke',
        deviceId: event.data.deviceId,
        userId: event.data.userId,
        actor: event.data.actor,
        occurredAt: event.data.occurredAt,
      });
    default:
      throw new Error(`the bench fleet has no ${event.type}`);
  }
}

/**
 * import: lines/s of `ledger import`'s engine (importNdjsonFile with the store writer, from a file on disk)
 * over the bench's fleet as NDJSON — every device's ownership lines, then its views — against views/s
 * appended through the store port the way POST /v1/views/batch appends them (ingest.embedded's own side),
 * each on a fresh data dir in the same run.
 */
export const importSuite: Suite = async (context, log) => {
  const devices = context.quick ? 20_000 : SHAPE.devices;
  const views = context.quick ? 140_000 : 690_000;
  const shape: FleetShape = { ...SHAPE, devices, users: devices * 2 };
  const file = path.join(context.workDir, 'import-fleet.ndjson');
  const out = fs.createWriteStream(file);
  let lines = 0;
  const write = (text: string) => {
    lines++;
    if (!out.write(`${text}\n`)) return new Promise<void>((resolve) => out.once('drain', () => resolve()));
    return undefined;
  };
  for (let d = 0; d < devices; d++)
    for (const event of deviceHistory(d, shape)) await write(ownershipLine(event));
  for (let i = 0; i < views; i++) await write(JSON.stringify({ op: 'view', ...viewInput(i, shape) }));
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  const batches: NewEvent[][] = [];
  for (let i = 0; i < views; i += BATCH) batches.push(viewEvents(i, BATCH, shape));

  const rounds = paired();
  const runs = Math.min(context.rounds, context.quick ? 2 : context.rounds);
  for (let round = 0; round < runs; round++) {
    const sides = round % 2 === 0 ? (['ours', 'port'] as const) : (['port', 'ours'] as const);
    for (const side of sides) {
      const dir = fs.mkdtempSync(path.join(context.workDir, `import-${side}-`));
      try {
        if (side === 'ours') {
          // Opened as `ledger import` opens it: commits on the store's writer thread.
          const store = SqliteEventStore.open({ dataDir: dir, writerThread: true });
          try {
            let accepted = 0;
            const ms = await timeIt(async () => {
              const summary = await importNdjsonFile(file, { writer: new StoreLedgerWriter(store) });
              accepted = summary.accepted;
            });
            if (accepted !== lines) throw new Error(`the import accepted ${accepted} of ${lines} lines`);
            rounds.ours.push(perSecond(lines, ms));
          } finally {
            await store.close();
          }
        } else {
          const { ms } = await throughStore(dir, batches);
          rounds.theirs.push(perSecond(views, ms));
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    log(
      `round ${round + 1}: import ${Math.round(rounds.ours[round])} lines/s, views through the port ${Math.round(rounds.theirs[round])}/s`,
    );
  }
  fs.rmSync(file, { force: true });
  return {
    results: [
      result(
        'import',
        'lines/s',
        'views/s appended through the store port as POST /v1/views/batch does (ingest.embedded), same run',
        rounds,
        true,
      ),
    ],
    notes: [
      `import: ${lines.toLocaleString('en-US')} lines (${devices.toLocaleString('en-US')} devices' ownership changes, then ` +
        `${views.toLocaleString('en-US')} views) from an NDJSON file into a fresh embedded store, every line accepted.`,
    ],
  };
};

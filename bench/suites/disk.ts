import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { readAllPages, type RecordedEvent } from '@ledger/event-store';
import { SqliteEventStore } from '../../libs/event-store/src/sqlite';
import { writeFleetLog, type FleetShape } from '../lib/fixtures';
import { paired, result } from '../lib/stats';
import type { Suite } from '../lib/types';

/** The import suite's fleet shape: an owner and two viewers per device, every tenth first viewer revoked. */
const SHAPE: FleetShape = { devices: 100_000, users: 200_000, viewersPerDevice: 2, revokeEvery: 10 };
const FILE_NAME = 'events.sqlite3';

const OPS: Readonly<Record<string, string>> = {
  DeviceRegistered: 'register',
  AccessGranted: 'grant',
  AccessRevoked: 'revoke',
  OwnershipTransferred: 'transfer',
  DeviceDecommissioned: 'decommission',
  MediaViewed: 'view',
};

/**
 * The event as one line of `ledger import`'s NDJSON: the op and the fields its HTTP body takes. What the ledger
 * adds itself (`recordedAt`; a transfer's `previousOwnerId`) is not part of an import line.
 */
export function importLineOf(event: RecordedEvent): string {
  const op = OPS[event.type];
  if (op === undefined) throw new Error(`the disk suite's fleet has no ${event.type}`);
  const { recordedAt: _recordedAt, previousOwnerId: _previousOwnerId, ...fields } = event.data;
  return JSON.stringify({ op, ...fields });
}

/** Bytes of the store file and whatever SQLite keeps beside it (WAL, shared memory). */
function storeBytes(dir: string): number {
  let bytes = 0;
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(FILE_NAME)) bytes += fs.statSync(path.join(dir, name)).size;
  }
  return bytes;
}

/** Bytes per event of each table and index, from SQLite's `dbstat` (pages, so free space included). */
function breakdown(dir: string, events: number): string {
  const db = new Database(path.join(dir, FILE_NAME), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC')
      .all() as Array<{ name: string; bytes: number }>;
    return rows
      .filter((row) => row.bytes / events >= 0.5)
      .map((row) => `${row.name} ${(row.bytes / events).toFixed(1)}`)
      .join(', ');
  } finally {
    db.close();
  }
}

async function writeImportNdjson(store: SqliteEventStore, file: string): Promise<number> {
  const out = fs.createWriteStream(file);
  let lines = 0;
  try {
    for await (const page of readAllPages(store, { pageSize: 10_000 })) {
      const chunk = page.map(importLineOf);
      lines += chunk.length;
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return lines;
}

/**
 * disk.bytes-per-event: bytes of `events.sqlite3` (closed, so the WAL is checkpointed into it) per event, for
 * the bench fleet written through the port as the API writes it, against the same events as plain NDJSON in
 * the import format. The ratio is NDJSON ÷ store: at or above 1.0 the store costs no more than the file.
 */
export const disk: Suite = async (context, log) => {
  const devices = context.quick ? 20_000 : SHAPE.devices;
  const views = context.quick ? 140_000 : 690_000;
  const shape: FleetShape = { ...SHAPE, devices, users: devices * 2 };
  const rounds = paired();
  const notes: string[] = [];
  // The sizes barely move between rounds (only the random event ids differ), so one round is enough.
  const dir = fs.mkdtempSync(path.join(context.workDir, 'disk-'));
  let store = SqliteEventStore.open({ dataDir: dir });
  let written: { ownershipEvents: number; views: number };
  try {
    written = await writeFleetLog(store, shape, views);
  } finally {
    await store.close();
  }
  const events = written.ownershipEvents + written.views;
  const diskBytes = storeBytes(dir);
  const ndjson = path.join(context.workDir, 'disk-import.ndjson');
  store = SqliteEventStore.open({ dataDir: dir });
  let lines: number;
  try {
    lines = await writeImportNdjson(store, ndjson);
  } finally {
    await store.close();
  }
  if (lines !== events) throw new Error(`the store holds ${lines} events, ${events} were written`);
  const ndjsonBytes = fs.statSync(ndjson).size;
  rounds.ours.push(diskBytes / events);
  rounds.theirs.push(ndjsonBytes / events);
  log(
    `${events} events: store ${(diskBytes / events).toFixed(1)} bytes/event, NDJSON ${(ndjsonBytes / events).toFixed(1)}`,
  );
  notes.push(
    `disk: ${events.toLocaleString('en-US')} events (${written.ownershipEvents.toLocaleString('en-US')} ownership ` +
      `changes, ${written.views.toLocaleString('en-US')} views); store ${(diskBytes / 1e6).toFixed(1)} MB, ` +
      `NDJSON ${(ndjsonBytes / 1e6).toFixed(1)} MB. Bytes per event by table and index (dbstat): ${breakdown(dir, events)}.`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(ndjson, { force: true });
  return {
    results: [
      result(
        'disk.bytes-per-event',
        'bytes/event',
        'the same events as plain NDJSON in the import format',
        rounds,
        false,
      ),
    ],
    notes,
  };
};

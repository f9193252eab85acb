import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import type { AppendResult } from '../event-store.port';
import { InvalidAppendError } from '../errors';
import { configureConnection } from './connection';
import { GroupCommitter, type GroupMember } from './group-committer';
import { NO_STREAM } from './revision-cache';
import { migrate } from './schema';

const member = (stream: string, prefix: string, count: number, unchecked = false): GroupMember => {
  const ids = Array.from(
    { length: count },
    (_, i) => `${prefix}-${String(i).padStart(4, '0')}-4000-8000-000000000000`,
  );
  return {
    stream,
    expected: 'any',
    ids,
    types: ids.map(() => 'MediaViewed'),
    data: ids.map((_, i) => JSON.stringify({ viewerId: `user-${i}`, mediaType: 'thumbnail' })),
    metadata: ids.map(() => null),
    unchecked,
    outcome: undefined,
    firstPosition: NO_STREAM,
    firstRevision: NO_STREAM,
  };
};

describe('GroupCommitter', () => {
  let dir: string;
  let db: Database.Database;
  let committer: GroupCommitter;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-group-committer-'));
    db = new Database(path.join(dir, 'events.sqlite3'));
    configureConnection(db);
    migrate(db);
    committer = new GroupCommitter(db, 100);
  });
  afterEach(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("commits a group taken between the slices of a big group's preparation ahead of it, each with its own rows", () => {
    // Teaches the codec the type and the shape first: a big group's rows are then coded before its transaction.
    committer.commit([member('views-1', 'aaaaaaaa', 1)]);
    const big = member('views-1', 'bbbbbbbb', 1000, true);
    const small = member('views-1', 'cccccccc', 1);
    let pauses = 0;
    let smallOutcome: ReturnType<GroupCommitter['commit']> | undefined;
    const bigOutcome = committer.commit([big], () => {
      pauses++;
      smallOutcome ??= committer.commit([small]);
    });
    // One pause per slice of 100 rows coded, one for the serialized rows' check, one before the transaction.
    expect(pauses).toBe(1 + 10 + 1);
    expect(smallOutcome).toEqual({ ok: true, groupStart: 0, head: 1 });
    expect(bigOutcome).toEqual({ ok: true, groupStart: 1, head: 1001 });
    expect((small.outcome as AppendResult).position.commit).toBe(1n);
    expect((big.outcome as AppendResult).positions.map((position) => Number(position.commit))).toEqual(
      Array.from({ length: 1000 }, (_, k) => k + 2),
    );
    expect((big.outcome as AppendResult).nextExpectedRevision).toBe(1001n);
    const rows = db.prepare('SELECT position, revision FROM events ORDER BY position').raw().all();
    expect(rows).toEqual(Array.from({ length: 1002 }, (_, k) => [k, k]));
  });

  it('codes in the transaction what its preparation could not (a type and a shape seen first)', () => {
    const first = member('views-2', 'dddddddd', 250, true);
    expect(committer.commit([first], () => undefined)).toEqual({ ok: true, groupStart: -1, head: 249 });
    expect((first.outcome as AppendResult).nextExpectedRevision).toBe(249n);
  });

  it('refuses serialized rows that break a rule before its transaction, and writes the others', () => {
    const bad = member('views-3', 'eeeeeeee', 2, true);
    const refused = { ...bad, data: [bad.data[0], '{"viewerId": "spaced"}'] };
    const good = member('views-4', 'ffffffff', 2, true);
    expect(committer.commit([refused, good])).toEqual({ ok: true, groupStart: -1, head: 1 });
    expect(refused.outcome).toBeInstanceOf(InvalidAppendError);
    expect(refused.firstPosition).toBe(NO_STREAM);
    expect((good.outcome as AppendResult).position.commit).toBe(1n);
  });
});

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
    // One pause per slice of 100 rows checked and per slice coded, one for the serialized member's check, and
    // one before the transaction.
    expect(pauses).toBe(1 + 10 + 10 + 1);
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

  it('gives its transaction up to a group waiting to go first, commits that one, then writes its own rows whole', () => {
    committer.commit([member('views-5', 'aaaaaaaa', 1)]);
    const big = member('views-5', 'bbbbbbbb', 1000, true);
    // The same stream: the revisions the rolled-back rows had taken go to the small group first.
    const small = member('views-5', 'cccccccc', 1);
    let waiting = false;
    let asked = 0;
    const bigOutcome = committer.commit(
      [big],
      () => {
        if (!waiting) return;
        waiting = false;
        expect(db.inTransaction).toBe(false);
        committer.commit([small]);
      },
      () => {
        asked++;
        // The small group is posted once the big one's transaction has inserted 300 rows.
        if (asked === 3 && (small.outcome as unknown) === undefined) waiting = true;
        return waiting;
      },
    );
    expect(bigOutcome).toEqual({ ok: true, groupStart: 1, head: 1001 });
    // The small group took the position after the first append; the big group's rows follow it, none twice.
    expect((small.outcome as AppendResult).position.commit).toBe(1n);
    expect((big.outcome as AppendResult).position.commit).toBe(1001n);
    expect((big.outcome as AppendResult).nextExpectedRevision).toBe(1001n);
    const rows = db.prepare('SELECT position, stream, revision FROM events ORDER BY position').raw().all();
    expect(rows).toEqual(Array.from({ length: 1002 }, (_, k) => [k, 'views-5', k]));
  });

  it('gives way until it has written its own rows again once, then commits however many groups wait', () => {
    committer.commit([member('views-7', 'aaaaaaaa', 1)]);
    const big = member('views-7', 'bbbbbbbb', 500, true);
    let asked = 0;
    const outcome = committer.commit(
      [big],
      () => undefined,
      () => {
        expect(db.inTransaction).toBe(true);
        asked++;
        return true;
      },
    );
    expect(outcome).toEqual({ ok: true, groupStart: 0, head: 500 });
    // Each attempt gives way after a slice of 100 rows: five of them rewrite 500 rows, as many as the group
    // has, so the sixth attempt is not asked at all.
    expect(asked).toBe(5);
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(501);
  });

  it('lets a burst of small groups through, each after a slice of its inserts, while it has rows to spare', () => {
    committer.commit([member('views-9', 'aaaaaaaa', 1)]);
    const big = member('views-9', 'bbbbbbbb', 1000, true);
    // Eight authorizations posted one after another, each while the big group's transaction is under way: a
    // burst, as the loop posts them when it gets round to them.
    const burst = Array.from({ length: 8 }, (_, k) => member(`views-${20 + k}`, `c000000${k}`, 1));
    let posted = 0;
    let committed = 0;
    const outcome = committer.commit(
      [big],
      () => {
        while (committed < posted) committer.commit([burst[committed++]]);
      },
      () => {
        if (posted < burst.length) posted++;
        return committed < posted;
      },
    );
    expect(outcome).toEqual({ ok: true, groupStart: 8, head: 1008 });
    expect(committed).toBe(burst.length);
    expect(burst.map((small) => (small.outcome as AppendResult).position.commit)).toEqual(
      burst.map((_, k) => BigInt(k + 1)),
    );
  });

  it('does not give way in a transaction that interned a type or a shape (the codec keeps what it interned)', () => {
    const first = member('views-8', 'dddddddd', 300, true);
    let asked = 0;
    const outcome = committer.commit(
      [first],
      () => undefined,
      () => {
        asked++;
        return true;
      },
    );
    expect(outcome).toEqual({ ok: true, groupStart: -1, head: 299 });
    expect(asked).toBe(0);
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

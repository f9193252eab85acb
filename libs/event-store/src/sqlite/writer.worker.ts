import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { configureConnection } from './connection';
import { GroupCommitter, type GroupMember } from './group-committer';
import { NO_STREAM } from './revision-cache';
import {
  toWireError,
  type FromWriter,
  type ToWriter,
  type WireOutcome,
  type WriterThreadData,
} from './writer-thread.protocol';

// The writer thread of a SqliteEventStore: its own connection to the store's file, on which every group
// commit runs (inserts, index updates and the fsync), so the store's event loop keeps serving meanwhile.

const port = parentPort;
if (port === null) throw new Error('writer.worker must run as a worker thread');
const { file, revisionCacheSize } = workerData as WriterThreadData;
const db = new Database(file);
configureConnection(db);
const committer = new GroupCommitter(db, revisionCacheSize);
const send = (message: FromWriter): void => port.postMessage(message);

port.on('message', (message: ToWriter) => {
  if (message.kind === 'close') {
    db.close();
    send({ kind: 'closed' });
    port.close();
    return;
  }
  const batch: GroupMember[] = message.batch.map((wire) => ({
    ...wire,
    outcome: undefined,
    firstPosition: NO_STREAM,
    firstRevision: NO_STREAM,
  }));
  const outcome = committer.commit(batch);
  if (!outcome.ok) {
    send({ kind: 'failed', error: toWireError(outcome.error) });
    return;
  }
  const outcomes = batch.map(({ outcome: result, firstPosition, firstRevision }): WireOutcome => {
    if (result instanceof Error) return { error: toWireError(result), firstPosition, firstRevision };
    // Rows written: the store's side rebuilds the result from the first position (`writtenResult`).
    return firstPosition === NO_STREAM
      ? { result, firstPosition, firstRevision }
      : { firstPosition, firstRevision };
  });
  send({ kind: 'committed', groupStart: outcome.groupStart, head: outcome.head, outcomes });
});
send({ kind: 'ready' });

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
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

/** Messages received and not yet handled, in the order they were posted (but for groups that may go first). */
const backlog: ToWriter[] = [];
let handling = false;
let closed = false;

port.on('message', (message: ToWriter) => {
  backlog.push(message);
  if (!handling) handleBacklog();
});

function handleBacklog(): void {
  handling = true;
  try {
    while (backlog.length > 0 && !closed) handle(backlog.shift() as ToWriter);
  } finally {
    handling = false;
  }
}

function handle(message: ToWriter): void {
  if (message.kind === 'close') {
    closed = true;
    db.close();
    send({ kind: 'closed' });
    port?.close();
    return;
  }
  commit(message, takeGroupsThatGoFirst, groupWaitsToGoFirst);
}

function receivePosted(): void {
  for (
    let received = receiveMessageOnPort(port!);
    received !== undefined;
    received = receiveMessageOnPort(port!)
  ) {
    backlog.push(received.message as ToWriter);
  }
}

/**
 * Where in the backlog, from `from` on, the next group that may go first waits; -1 when none does before a
 * close (nothing posted after the close is committed ahead of it).
 */
function nextGroupThatGoesFirst(from: number): number {
  for (let i = from; i < backlog.length; i++) {
    const message = backlog[i];
    if (message.kind === 'close') return -1;
    if (message.mayGoFirst) return i;
  }
  return -1;
}

/**
 * Asked between slices of a big group's inserts: whether a group that may go first was posted meanwhile. If so
 * the big group's transaction gives way to it (`GroupCommitter.commit`) rather than make an authorization wait
 * for a thousand inserts.
 */
function groupWaitsToGoFirst(): boolean {
  receivePosted();
  return nextGroupThatGoesFirst(0) >= 0;
}

/**
 * Called by a commit between slices of its preparation: a small group posted meanwhile whose requests may all
 * be committed before the ones ahead of them (an authorization's view behind a batch of views) is committed
 * now, and answered at once, instead of after the group being prepared. Everything else keeps its order.
 */
function takeGroupsThatGoFirst(): void {
  receivePosted();
  for (let i = nextGroupThatGoesFirst(0); i >= 0; i = nextGroupThatGoesFirst(i)) {
    const [message] = backlog.splice(i, 1) as [Extract<ToWriter, { kind: 'commit' }>];
    commit(message, () => undefined);
  }
}

function commit(
  message: Extract<ToWriter, { kind: 'commit' }>,
  between: () => void,
  giveWay?: () => boolean,
): void {
  // Field by field, not `{ ...wire }`: spread copies of the objects the message was deserialized into took
  // several hidden classes, and every member access in the committer went megamorphic — 17% more CPU per
  // one-event append (docs/benchmarks.md, "The writer thread's members").
  const batch: GroupMember[] = message.batch.map((wire) => ({
    stream: wire.stream,
    expected: wire.expected,
    ids: wire.ids,
    types: wire.types,
    data: wire.data,
    metadata: wire.metadata,
    unchecked: wire.unchecked,
    outcome: undefined,
    firstPosition: NO_STREAM,
    firstRevision: NO_STREAM,
  }));
  const outcome = committer.commit(batch, between, giveWay);
  if (!outcome.ok) {
    send({ kind: 'failed', seq: message.seq, error: toWireError(outcome.error) });
    return;
  }
  const outcomes = batch.map(({ outcome: result, firstPosition, firstRevision }): WireOutcome => {
    if (result instanceof Error) return { error: toWireError(result), firstPosition, firstRevision };
    // Rows written: the store's side rebuilds the result from the first position (`writtenResult`).
    return firstPosition === NO_STREAM
      ? { result, firstPosition, firstRevision }
      : { firstPosition, firstRevision };
  });
  send({ kind: 'committed', seq: message.seq, groupStart: outcome.groupStart, head: outcome.head, outcomes });
}

send({ kind: 'ready' });

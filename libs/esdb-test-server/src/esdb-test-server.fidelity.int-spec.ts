/**
 * The test server behaves as an insecure EventStoreDB node does for what the official client's streams tests
 * exercise: delete and tombstone, links, stream metadata applied on reads, a fresh node's system events, the
 * checkpoint interval of filtered subscriptions, deadlines, the maximum append size, and UNAVAILABLE when the
 * node stops or dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  BACKWARDS,
  END,
  MaxAppendSizeExceededError,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  DeadlineExceededError,
  binaryEvent,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  type AllStreamSubscription,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import type { EsdbTestServerOptions } from './esdb-test-server';
import { usePrivateServers } from './testing/use-private-servers';
import { TOMBSTONE_REVISION_TEXT } from './in-memory-log';
import { sizeOnDisk } from './streams-service';

const { serverAndClient, connect } = usePrivateServers();
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

const event = (type = 'thing', data: Record<string, unknown> = {}) =>
  jsonEvent({ id: randomUUID(), type, data });

async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of read) items.push(item);
  return items;
}

async function eventually(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const both: ReadonlyArray<[string, EsdbTestServerOptions]> = [
  ['batch append', { features: 'batch-append' }],
  ['unary append', { features: 'append-only' }],
];

describe('delete and tombstone', () => {
  it('a soft-deleted stream reads as not found and is recreated at the next revision by an append', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('soft', [event(), event(), event(), event()]);
    await client.setStreamMetadata('soft', { cacheControl: 10 });
    const deleted = await client.deleteStream('soft');
    expect(deleted.position).toBeDefined();
    await expect(collect(client.readStream('soft'))).rejects.toThrow(StreamNotFoundError);

    const appended = await client.appendToStream('soft', event('again'), { expectedRevision: 'no_stream' });
    expect(appended.nextExpectedRevision).toBe(4n);
    const read = await collect(client.readStream('soft'));
    expect(read.map((resolved) => [resolved.event?.type, resolved.event?.revision])).toEqual([['again', 4n]]);
    // The recreation truncates before the new event and keeps the rest of the metadata.
    const metadata = await client.getStreamMetadata('soft');
    expect(metadata.metadata).toMatchObject({ truncateBefore: 4, cacheControl: 10 });
    // The old events stay in $all until a scavenge, as on a real node.
    const all = await collect(client.readAll());
    expect(all.filter((resolved) => resolved.event?.streamId === 'soft')).toHaveLength(5);
  });

  it('a soft delete checks the expected revision', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('checked', [event(), event()]);
    await expect(client.deleteStream('checked', { expectedRevision: 0n })).rejects.toMatchObject({
      type: 'wrong-expected-version',
      streamName: 'checked',
      expectedVersion: 0n,
    });
    await client.deleteStream('checked', { expectedRevision: 1n });
    await expect(collect(client.readStream('checked'))).rejects.toThrow(StreamNotFoundError);
  });

  it.each(both)(
    'a tombstone is permanent: reads, appends, deletes and subscriptions get StreamDeleted (%s)',
    async (_path, options) => {
      const { client } = await serverAndClient(options);
      await client.appendToStream('gone', [event(), event()]);
      await client.tombstoneStream('gone');
      await expect(collect(client.readStream('gone'))).rejects.toThrow(StreamDeletedError);
      const appendError = await client.appendToStream('gone', event()).catch((error: unknown) => error);
      expect(appendError).toBeInstanceOf(StreamDeletedError);
      expect((appendError as StreamDeletedError).streamName).toBe('gone');
      await expect(client.appendToStream('gone', event(), { expectedRevision: 'no_stream' })).rejects.toThrow(
        StreamDeletedError,
      );
      await expect(client.setStreamMetadata('gone', { maxCount: 1 })).rejects.toThrow(StreamDeletedError);
      await expect(client.tombstoneStream('gone')).rejects.toThrow(StreamDeletedError);
      await expect(client.deleteStream('gone')).rejects.toThrow(StreamDeletedError);

      const errors: unknown[] = [];
      const subscription = client.subscribeToStream('gone', { fromRevision: START });
      subscription.on('error', (error) => errors.push(error));
      subscription.on('data', () => undefined);
      await eventually('the subscription to fail', () => errors.length > 0);
      expect(errors[0]).toBeInstanceOf(StreamDeletedError);
    },
  );

  it('a tombstone is a $streamDeleted record in $all at revision 2^63 - 1; tombstoning no stream works', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('marked', event());
    await client.tombstoneStream('marked', { expectedRevision: 0n });
    await client.tombstoneStream('never-written', { expectedRevision: 'no_stream' });
    const all = await collect(client.readAll());
    const tombstones = all
      .map((resolved) => resolved.event)
      .filter((recorded) => recorded?.type === '$streamDeleted');
    expect(tombstones.map((recorded) => [recorded?.streamId, recorded?.revision])).toEqual([
      ['marked', BigInt(TOMBSTONE_REVISION_TEXT)],
      ['never-written', BigInt(TOMBSTONE_REVISION_TEXT)],
    ]);
    await expect(collect(client.readStream('never-written'))).rejects.toThrow(StreamDeletedError);
  });

  it('a live stream subscription ends with StreamDeleted when its stream is tombstoned', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('live', event());
    const errors: unknown[] = [];
    const revisions: bigint[] = [];
    const subscription = client.subscribeToStream('live', { fromRevision: START });
    subscription.on('error', (error) => errors.push(error));
    subscription.on('data', (resolved: ResolvedEvent) => {
      if (resolved.event) revisions.push(resolved.event.revision);
    });
    await eventually('catch-up', () => revisions.length === 1);
    await client.tombstoneStream('live');
    await eventually('the subscription to fail', () => errors.length > 0);
    expect(errors[0]).toBeInstanceOf(StreamDeletedError);
  });
});

describe('links', () => {
  it('resolveLinkTos hands out the event a $> link points at, with the link', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('target', [event('a'), event('b'), event('c')]);
    await client.appendToStream('links', binaryEvent({ type: '$>', data: Buffer.from('2@target') }));
    const [target] = await collect(client.readStream('target', { fromRevision: 2n, maxCount: 1 }));
    const [raw] = await collect(client.readStream('links'));
    const [resolved] = await collect(client.readStream('links', { resolveLinkTos: true }));
    expect(raw.event?.type).toBe('$>');
    expect(raw.link).toBeUndefined();
    expect(resolved.event).toEqual(target.event);
    expect(resolved.link?.type).toBe('$>');
    expect(resolved.link?.streamId).toBe('links');

    const all = await collect(client.readAll({ resolveLinkTos: true }));
    const viaAll = all.find((item) => item.link !== undefined);
    expect(viaAll?.event?.id).toBe(target.event?.id);
  });

  it('a link to an event that cannot be read is handed out unresolved', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('links', binaryEvent({ type: '$>', data: Buffer.from('7@nowhere') }));
    const [resolved] = await collect(client.readStream('links', { resolveLinkTos: true }));
    expect(resolved.event?.type).toBe('$>');
    expect(resolved.link).toBeUndefined();
  });
});

describe('stream metadata applied on reads', () => {
  it('$maxCount keeps the last events, both directions', async () => {
    const { client } = await serverAndClient();
    await client.setStreamMetadata('counted', { maxCount: 2 });
    await client.appendToStream(
      'counted',
      Array.from({ length: 20 }, () => event()),
    );
    const forwards = await collect(client.readStream('counted', { fromRevision: START, maxCount: 200 }));
    const backwards = await collect(
      client.readStream('counted', { fromRevision: END, direction: BACKWARDS, maxCount: 200 }),
    );
    expect(forwards.map((resolved) => resolved.event?.revision)).toEqual([18n, 19n]);
    expect(backwards.map((resolved) => resolved.event?.revision)).toEqual([19n, 18n]);
  });

  it('$tb hides the events before it, from reads and catch-up subscriptions', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream(
      'truncated',
      Array.from({ length: 5 }, () => event()),
    );
    await client.setStreamMetadata('truncated', { truncateBefore: 3 });
    const read = await collect(client.readStream('truncated'));
    expect(read.map((resolved) => resolved.event?.revision)).toEqual([3n, 4n]);
    const seen: bigint[] = [];
    const subscription = client.subscribeToStream('truncated', { fromRevision: START });
    subscription.on('data', (resolved: ResolvedEvent) => {
      if (resolved.event) seen.push(resolved.event.revision);
    });
    try {
      await eventually('catch-up', () => seen.length === 2);
      expect(seen).toEqual([3n, 4n]);
    } finally {
      await subscription.unsubscribe();
    }
  });

  it('$maxAge hides events older than it', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const { client } = await serverAndClient({ clock: () => now });
    await client.setStreamMetadata('aged', { maxAge: 60 });
    await client.appendToStream('aged', [event('old')]);
    now += 45_000;
    await client.appendToStream('aged', [event('new')]);
    now += 30_000;
    const read = await collect(client.readStream('aged'));
    expect(read.map((resolved) => resolved.event?.type)).toEqual(['new']);
  });

  it('a metastream keeps only its last event', async () => {
    const { client } = await serverAndClient();
    await client.setStreamMetadata('meta', { maxCount: 5 });
    await client.setStreamMetadata('meta', { maxCount: 7 });
    const read = await collect(client.readStream('$$meta'));
    expect(read).toHaveLength(1);
    expect((await client.getStreamMetadata('meta')).metadata?.maxCount).toBe(7);
  });
});

describe('a fresh node', () => {
  it('already has system events in $all, before anything a client appends', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('mine', event());
    const all = await collect(client.readAll());
    const firstUser = all.findIndex((resolved) => !resolved.event?.streamId.startsWith('$'));
    expect(firstUser).toBeGreaterThan(0);
    for (const resolved of all.slice(0, firstUser)) {
      expect(resolved.event?.streamId.startsWith('$')).toBe(true);
      expect(resolved.event?.type.startsWith('$')).toBe(true);
    }
    const { client: empty } = await serverAndClient({ systemEvents: false });
    expect(await collect(empty.readAll())).toEqual([]);
  });
});

describe('filtered subscriptions', () => {
  it('checkpoint every checkpointInterval × 32 events scanned, matching or not', async () => {
    const { server, client } = await serverAndClient({ systemEvents: false });
    await client.appendToStream(
      'matching',
      Array.from({ length: 100 }, () => event('wanted')),
    );
    const checkpoints: Position[] = [];
    let delivered = 0;
    const subscription: AllStreamSubscription = client.subscribeToAll({
      fromPosition: START,
      filter: excludeSystemEvents({
        checkpointInterval: 1,
        checkpointReached: (_subscription, position) => {
          checkpoints.push(position);
        },
      }),
    });
    subscription.on('data', () => {
      delivered += 1;
    });
    try {
      await eventually('all events', () => delivered === 100);
      await eventually('checkpoints', () => checkpoints.length === 3);
      const positions = server.log.all.map((stored) => BigInt(stored.position));
      expect(checkpoints.map((position) => position.commit)).toEqual([
        positions[31],
        positions[63],
        positions[95],
      ]);
    } finally {
      await subscription.unsubscribe();
    }
  });
});

describe('subscriptions under a slow reader', () => {
  it('are paced by backpressure with one drain listener at a time, checkpoints included', async () => {
    const { client } = await serverAndClient({ systemEvents: false });
    for (let batch = 0; batch < 4; batch++)
      await client.appendToStream(
        `slow-${batch}`,
        Array.from({ length: 1500 }, (_unused, i) => event(i % 3 === 0 ? 'skipped' : 'wanted', { i })),
      );
    // What MaxListenersExceededWarning counts: 'drain' listeners on the server's side of a call.
    let mostDrainListeners = 0;
    const once = EventEmitter.prototype.once;
    const spy = jest.spyOn(EventEmitter.prototype, 'once').mockImplementation(function (
      this: EventEmitter,
      name,
      listener,
    ) {
      const result = once.call(this, name, listener);
      if (name === 'drain' && this.constructor.name === 'ServerWritableStreamImpl')
        mostDrainListeners = Math.max(mostDrainListeners, this.listenerCount('drain'));
      return result;
    });
    const subscription: AllStreamSubscription = client.subscribeToAll({
      fromPosition: START,
      filter: eventTypeFilter({ prefixes: ['wanted'], checkpointInterval: 1 }),
    });
    const wanted = 4 * 1000;
    let delivered = 0;
    try {
      for await (const resolved of subscription) {
        expect(resolved.event?.data).toMatchObject({ i: expect.any(Number) });
        delivered += 1;
        // Slower than the server: its writes fill the stream's window again and again.
        if (delivered % 250 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        if (delivered === wanted) break;
      }
    } finally {
      spy.mockRestore();
      await subscription.unsubscribe();
    }
    expect(delivered).toBe(wanted);
    expect(mostDrainListeners).toBe(1);
  });
});

describe('deadlines', () => {
  it('a batch append whose deadline passes before it is received fails with DeadlineExceeded, writing nothing', async () => {
    const { client } = await serverAndClient();
    const events = Array.from({ length: 5_000 }, () => event('late', { filler: 'x'.repeat(100) }));
    await expect(client.appendToStream('late', events, { deadline: 1 })).rejects.toThrow(
      DeadlineExceededError,
    );
    await expect(collect(client.readStream('late'))).rejects.toThrow(StreamNotFoundError);
  });
});

describe('maximum append size', () => {
  it.each(both)(
    'refuses an append over the limit with MaximumAppendSizeExceeded, atomically (%s)',
    async (_p, o) => {
      const { client } = await serverAndClient({ ...o, maxAppendSize: 1_000 });
      const oversized = Array.from({ length: 20 }, () => event('big', { filler: 'x'.repeat(40) }));
      const error = await client.appendToStream('sized', oversized).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MaxAppendSizeExceededError);
      expect((error as MaxAppendSizeExceededError).maxAppendSize).toBe(1_000);
      await expect(collect(client.readStream('sized'))).rejects.toThrow(StreamNotFoundError);
    },
  );

  it('counts data, metadata and the event type twice, as EventStoreDB does', async () => {
    const { client } = await serverAndClient({ maxAppendSize: 100 });
    const data = Buffer.alloc(90 - 2 * 'type'.length);
    expect(sizeOnDisk({ id: '', type: 'type', contentType: '', data, metadata: new Uint8Array(0) })).toBe(90);
    await client.appendToStream('exact', binaryEvent({ type: 'type', data }));
    await client.appendToStream('exact', binaryEvent({ type: 'type', data: Buffer.alloc(100 - 8) }));
    await expect(
      client.appendToStream('exact', binaryEvent({ type: 'type', data: Buffer.alloc(100 - 7) })),
    ).rejects.toThrow(MaxAppendSizeExceededError);
  });

  it('defaults to 1 MiB', async () => {
    const { client } = await serverAndClient();
    const nearly = Array.from({ length: 4 }, () => binaryEvent({ type: 't', data: Buffer.alloc(250_000) }));
    await client.appendToStream('mib', nearly);
    const over = Array.from({ length: 5 }, () => binaryEvent({ type: 't', data: Buffer.alloc(250_000) }));
    await expect(client.appendToStream('mib', over)).rejects.toThrow(MaxAppendSizeExceededError);
  });
});

describe('a node that stops or dies', () => {
  it('stop() ends open subscriptions with UNAVAILABLE, and later calls find no node', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('s', event());
    const errors: unknown[] = [];
    const subscription = client.subscribeToAll({ fromPosition: START });
    subscription.on('error', (error) => errors.push(error));
    subscription.on('data', () => undefined);
    await new Promise((resolve) => subscription.once('caughtUp', resolve));
    await server.stop();
    await eventually('the subscription to drop', () => errors.length > 0);
    expect(errors[0]).toBeInstanceOf(UnavailableError);
    // Nothing listens any more: the client's connection attempt itself reports UNAVAILABLE (14).
    await expect(client.appendToStream('s', event())).rejects.toMatchObject({ code: 14 });
  });

  it('a killed server process (started with --max-append-size) gives UNAVAILABLE', async () => {
    const root = join(__dirname, '..', '..', '..');
    const child = spawn(
      process.execPath,
      [
        '-r',
        join(root, 'test/support/register-ts.js'),
        join(__dirname, 'main.ts'),
        '--port',
        '0',
        '--max-append-size',
        '500',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    const connectionString = await new Promise<string>((resolve, reject) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /esdb:\/\/\S+/.exec(output);
        if (match) resolve(match[0]);
      });
      child.once('exit', (code) => reject(new Error(`test server exited with ${code}`)));
    });
    const client = connect(connectionString);
    await expect(
      client.appendToStream('small', binaryEvent({ type: 't', data: Buffer.alloc(600) })),
    ).rejects.toMatchObject({ type: 'maximum-append-size-exceeded', maxAppendSize: 500 });
    await client.appendToStream('small', event());
    const errors: unknown[] = [];
    const subscription = client.subscribeToAll({ fromPosition: START });
    subscription.on('error', (error) => errors.push(error));
    subscription.on('data', () => undefined);
    await new Promise((resolve) => subscription.once('caughtUp', resolve));
    child.kill('SIGKILL');
    await eventually('the subscription to drop', () => errors.length > 0);
    expect(errors[0]).toBeInstanceOf(UnavailableError);
  });
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { credentials } from '@grpc/grpc-js';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import {
  BACKWARDS,
  END,
  FORWARDS,
  START,
  WrongExpectedVersionError,
  eventTypeFilter,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { ServerFeaturesClient } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import type { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import {
  Empty,
  StreamIdentifier,
  UUID,
  WrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { StreamsClient } from '@eventstore/db-client/generated/streams_grpc_pb';
import { BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import { usePrivateServers } from './testing/use-private-servers';

const { serverAndClient, connect } = usePrivateServers();

const event = (type = 'thing', data: Record<string, unknown> = {}) =>
  jsonEvent({ id: randomUUID(), type, data });

async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of read) items.push(item);
  return items;
}

function positionOf(resolved: ResolvedEvent | AllStreamResolvedEvent): Position {
  const position = resolved.event?.position;
  if (!position) throw new Error('event without position');
  return position;
}

/** Collects a catch-up subscription's events and checkpoints until told to stop. */
function record(subscription: AllStreamSubscription) {
  const seen = { events: [] as string[], caughtUp: 0, error: undefined as unknown };
  subscription.on('data', (resolved: AllStreamResolvedEvent) => {
    if (resolved.event) seen.events.push(resolved.event.id);
  });
  subscription.on('caughtUp', () => {
    seen.caughtUp += 1;
  });
  subscription.on('error', (error: Error) => {
    seen.error = error;
  });
  return seen;
}

async function eventually(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the EventStoreDB test server, spoken to by @eventstore/db-client', () => {
  it.each([
    ['batch-append', ['Append', 'BatchAppend', 'Read']],
    ['append-only', ['Append', 'Read']],
  ] as const)('advertises %s through ServerFeatures.GetSupportedMethods', async (features, methods) => {
    const { server } = await serverAndClient({ features });
    const raw = new ServerFeaturesClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    try {
      const supported = await new Promise<SupportedMethods>((resolve, reject) =>
        raw.getSupportedMethods(new Empty(), (error, value) => (error ? reject(error) : resolve(value))),
      );
      const streams = supported
        .getMethodsList()
        .filter((method) => method.getServiceName() === 'event_store.client.streams.Streams')
        .map((method) => method.getMethodName())
        .sort();
      expect(streams).toEqual(methods);
    } finally {
      raw.close();
    }
  });

  it('records events with byte-offset positions (commit = prepare), ticks in `created` and the content type', async () => {
    const { client } = await serverAndClient();
    const before = Date.now();
    await client.appendToStream('s', [event('a', { n: 1 }), event('b', { n: 2 }), event('c', { n: 3 })]);
    const read = await collect(client.readStream('s'));
    const positions = read.map(positionOf);
    expect(positions[0].commit).toBeGreaterThanOrEqual(4096n);
    for (let i = 1; i < positions.length; i++) {
      expect(positions[i].commit - positions[i - 1].commit).toBeGreaterThan(1n);
    }
    positions.forEach((position) => expect(position.prepare).toBe(position.commit));
    for (const resolved of read) {
      expect(resolved.event?.isJson).toBe(true);
      expect(resolved.event?.created.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(resolved.event?.created.getTime()).toBeLessThanOrEqual(Date.now());
    }
    expect(read.map((resolved) => resolved.event?.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('reads $all forwards from a position including it, backwards excluding it', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('s', [event(), event(), event(), event()]);
    const all = await collect(client.readAll());
    const third = positionOf(all[2]);
    const forwards = await collect(client.readAll({ fromPosition: third, direction: FORWARDS }));
    const backwards = await collect(client.readAll({ fromPosition: third, direction: BACKWARDS }));
    expect(forwards.map((resolved) => resolved.event?.id)).toEqual(
      all.slice(2).map((resolved) => resolved.event?.id),
    );
    expect(backwards.map((resolved) => resolved.event?.id)).toEqual(
      all
        .slice(0, 2)
        .reverse()
        .map((resolved) => resolved.event?.id),
    );
    const last = await collect(client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 }));
    expect(last[0].event?.id).toBe(all.at(-1)?.event?.id);
  });

  it('reads streams both ways and reports a missing stream in band', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('s', [event(), event(), event()]);
    const backwards = await collect(
      client.readStream('s', { direction: BACKWARDS, fromRevision: END, maxCount: 2 }),
    );
    expect(backwards.map((resolved) => resolved.event?.revision)).toEqual([2n, 1n]);
    const from = await collect(client.readStream('s', { fromRevision: 1n }));
    expect(from.map((resolved) => resolved.event?.revision)).toEqual([1n, 2n]);
    await expect(collect(client.readStream('missing'))).rejects.toMatchObject({ type: 'stream-not-found' });
  });

  it.each(['batch-append', 'append-only'] as const)(
    'answers a wrong expected version and an idempotent retry on %s',
    async (features) => {
      const { server, client } = await serverAndClient({ features });
      const first = [event(), event()];
      const written = await client.appendToStream('s', first, { expectedRevision: 'no_stream' });
      expect(written.position).toBeDefined();
      const again = await client.appendToStream('s', first, { expectedRevision: 'no_stream' });
      expect(again).toMatchObject({ success: true, nextExpectedRevision: 1n, position: undefined });
      const error = await client
        .appendToStream('s', event(), { expectedRevision: 5n })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedVersionError);
      expect(error).toMatchObject({ streamName: 's', expectedVersion: 5n, actualVersion: 1n });
      // Part of a request already stored at the expected place is not a retry: EventStoreDB says wrong version.
      const partly = await client
        .appendToStream('s', [first[0], event()], { expectedRevision: 'no_stream' })
        .catch((e: unknown) => e);
      expect(partly).toBeInstanceOf(WrongExpectedVersionError);
      expect(server.log.stream('s')?.events).toHaveLength(2);
    },
  );

  it('echoes BatchAppend correlation ids and packs WrongExpectedVersion into google.rpc.Status', async () => {
    const { server } = await serverAndClient();
    const raw = new StreamsClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    try {
      const call = raw.batchAppend();
      const responses: BatchAppendResp[] = [];
      call.on('data', (response: BatchAppendResp) => responses.push(response));
      const ended = new Promise<unknown>((resolve) => {
        call.on('error', resolve);
        call.on('status', resolve);
      });
      const request = (correlation: string, stream: string, final: boolean, expectExisting: boolean) => {
        const options = new BatchAppendReq.Options().setStreamIdentifier(
          new StreamIdentifier().setStreamName(Buffer.from(stream)),
        );
        if (expectExisting) options.setStreamPosition('0');
        else options.setAny(new GoogleEmpty());
        const message = new BatchAppendReq.ProposedMessage()
          .setId(new UUID().setString(randomUUID()))
          .setData(Buffer.from('{}'));
        message.getMetadataMap().set('type', 't');
        message.getMetadataMap().set('content-type', 'application/json');
        return new BatchAppendReq()
          .setCorrelationId(new UUID().setString(correlation))
          .setOptions(options)
          .setProposedMessagesList([message])
          .setIsFinal(final);
      };
      const [a, b] = [randomUUID(), randomUUID()];
      call.write(request(a, 'one', false, false));
      call.write(request(b, 'two', true, true));
      call.write(request(a, 'one', true, false));
      await eventually('two responses', () => responses.length === 2);
      call.end();
      await ended;
      expect(responses.map((response) => response.getCorrelationId()?.getString())).toEqual([b, a]);
      const failed = responses[0];
      expect(failed.hasError()).toBe(true);
      expect(Buffer.from(failed.getStreamIdentifier()!.getStreamName_asU8()).toString()).toBe('two');
      const details = failed
        .getError()!
        .getDetails()!
        .unpack(WrongExpectedVersion.deserializeBinary, 'event_store.client.WrongExpectedVersion');
      expect(details?.hasCurrentNoStream()).toBe(true);
      expect(details?.getExpectedStreamPosition()).toBe('0');
      expect(responses[1].getSuccess()?.getCurrentRevision()).toBe('1');
    } finally {
      raw.close();
    }
  });

  it('subscribes to $all after a position, with filters, checkpoints, caught-up and live events', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('device-1', [event('registered'), event('granted')]);
    await client.appendToStream(
      'views-1',
      Array.from({ length: 40 }, () => event('viewed')),
    );
    const [firstDevice] = await collect(client.readStream('device-1', { maxCount: 1 }));
    const checkpoints: Position[] = [];
    const byStream = client.subscribeToAll({
      fromPosition: positionOf(firstDevice),
      filter: streamNameFilter({
        prefixes: ['device-'],
        checkpointReached: (_s, position) => void checkpoints.push(position),
      }),
    });
    const byType = client.subscribeToAll({
      fromPosition: START,
      filter: eventTypeFilter({ regex: '^(?:registered|revoked)$' }),
    });
    const streamSeen = record(byStream);
    const typeSeen = record(byType);
    try {
      await eventually('caught-up', () => streamSeen.caughtUp === 1 && typeSeen.caughtUp === 1);
      expect(streamSeen.events).toHaveLength(1);
      expect(typeSeen.events).toHaveLength(1);
      expect(checkpoints.length).toBeGreaterThan(0);
      await client.appendToStream('device-1', [event('revoked')]);
      await client.appendToStream('views-1', [event('viewed')]);
      await eventually('live events', () => streamSeen.events.length === 2 && typeSeen.events.length === 2);
    } finally {
      await byStream.unsubscribe();
      await byType.unsubscribe();
    }
  });

  it('subscribes to a stream: catch-up after a revision, then live', async () => {
    const { client } = await serverAndClient();
    await client.appendToStream('s', [event(), event(), event()]);
    const subscription = client.subscribeToStream('s', { fromRevision: 0n });
    const revisions: bigint[] = [];
    subscription.on('data', (resolved: ResolvedEvent) => {
      if (resolved.event) revisions.push(resolved.event.revision);
    });
    try {
      await eventually('catch-up', () => revisions.length === 2);
      await client.appendToStream('s', event());
      await eventually('live', () => revisions.length === 3);
      expect(revisions).toEqual([1n, 2n, 3n]);
    } finally {
      await subscription.unsubscribe();
    }
  });

  it('stop() drops open subscriptions; restart() serves the same events on the same port', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('s', [event(), event()]);
    const port = server.port;
    const subscription = client.subscribeToAll({ fromPosition: START });
    const seen = record(subscription);
    await eventually('caught-up', () => seen.caughtUp === 1);
    await server.stop();
    await eventually('the subscription to drop', () => seen.error !== undefined);
    expect(server.running).toBe(false);
    await server.restart();
    expect(server.port).toBe(port);
    const fresh = connect(server.connectionString);
    expect(await collect(fresh.readStream('s'))).toHaveLength(2);
  });
});

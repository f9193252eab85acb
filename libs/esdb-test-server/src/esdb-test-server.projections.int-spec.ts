/**
 * The test server's projections, through the official client's Projections calls: the standard `$by_category`
 * projection, and user JavaScript projections that link (`linkTo`), emit and fold a state, over events that
 * existed before they were created and events appended after.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  EventStoreDBClient,
  NotFoundError,
  StreamNotFoundError,
  binaryEvent,
  jsonEvent,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { usePrivateServers } from './testing/use-private-servers';

const { serverAndClient } = usePrivateServers();

const event = (type: string, data: Record<string, unknown> = {}) =>
  jsonEvent({ id: randomUUID(), type, data });

async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of read) items.push(item);
  return items;
}

async function readOrNothing(client: EventStoreDBClient, stream: string, resolveLinkTos = false) {
  try {
    return await collect(client.readStream(stream, { resolveLinkTos }));
  } catch (error) {
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  }
}

async function eventually(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const linkData = (resolved: ResolvedEvent) =>
  Buffer.from((resolved.event as { data: Uint8Array }).data).toString('utf8');

describe('$by_category', () => {
  it('is stopped on a fresh node; enabled, it links existing and new events of `category-…` streams', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('order-1', [event('Placed'), event('Paid')]);
    await client.appendToStream('nodash', event('Ignored'));
    expect((await client.getProjectionStatus('$by_category')).projectionStatus).toBe('Stopped');
    server.projections.catchUp();
    expect(await readOrNothing(client, '$ce-order')).toEqual([]);

    await client.enableProjection('$by_category');
    await client.appendToStream('order-2', event('Placed'));
    await eventually('the three order events linked', async () => {
      return (await readOrNothing(client, '$ce-order')).length === 3;
    });
    const links = await readOrNothing(client, '$ce-order');
    expect(links.map(linkData)).toEqual(['0@order-1', '1@order-1', '0@order-2']);
    const resolved = await readOrNothing(client, '$ce-order', true);
    expect(resolved.map((item) => item.event?.type)).toEqual(['Placed', 'Paid', 'Placed']);
    expect(resolved.map((item) => item.link?.type)).toEqual(['$>', '$>', '$>']);
    // Streams without a category, the system's own streams and links are not categorised.
    expect(await readOrNothing(client, '$ce-nodash')).toEqual([]);
    expect(await readOrNothing(client, '$ce-$ce')).toEqual([]);
  });

  it('links a link in a categorised stream to what it points at, and indexes nothing of the system’s streams', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('order-1', event('Placed'));
    await client.appendToStream('mirror-1', binaryEvent({ type: '$>', data: Buffer.from('0@order-1') }));
    await client.appendToStream('$internal-1', event('Hidden'));
    await client.enableProjection('$by_category');
    server.projections.catchUp();
    expect((await readOrNothing(client, '$ce-mirror')).map(linkData)).toEqual(['0@order-1']);
    expect(await readOrNothing(client, '$ce-$internal')).toEqual([]);
  });

  it('disabled or aborted, it stops at its position; enabled again, it resumes from there', async () => {
    const { server, client } = await serverAndClient();
    await client.enableProjection('$by_category');
    await client.appendToStream('user-1', event('Created'));
    server.projections.catchUp();
    await client.disableProjection('$by_category');
    await client.appendToStream('user-2', event('Created'));
    server.projections.catchUp();
    expect((await readOrNothing(client, '$ce-user')).map(linkData)).toEqual(['0@user-1']);
    expect((await client.getProjectionStatus('$by_category')).projectionStatus).toBe('Stopped');

    await client.enableProjection('$by_category');
    server.projections.catchUp();
    expect((await readOrNothing(client, '$ce-user')).map(linkData)).toEqual(['0@user-1', '0@user-2']);

    // Aborted (disabled without a checkpoint), it resumes where it stopped too.
    await client.abortProjection('$by_category');
    expect((await client.getProjectionStatus('$by_category')).projectionStatus).toBe('Aborted');
    await client.appendToStream('user-3', event('Created'));
    await client.enableProjection('$by_category');
    server.projections.catchUp();
    expect((await readOrNothing(client, '$ce-user')).map(linkData)).toEqual([
      '0@user-1',
      '0@user-2',
      '0@user-3',
    ]);
  });
});

describe('the other standard projections', () => {
  it('$by_event_type links by type (not links); $streams and $stream_by_category index first events', async () => {
    const { server, client } = await serverAndClient({ systemEvents: false });
    await client.appendToStream('shop-1', [event('Opened'), event('Closed')]);
    await client.appendToStream('shop-2', event('Opened'));
    await client.appendToStream('plain', event('Opened'));
    for (const name of ['$by_event_type', '$streams', '$stream_by_category'])
      await client.enableProjection(name);
    server.projections.catchUp();
    expect((await readOrNothing(client, '$et-Opened')).map(linkData)).toEqual([
      '0@shop-1',
      '0@shop-2',
      '0@plain',
    ]);
    expect(await readOrNothing(client, '$et-$>')).toEqual([]);
    const streams = (await readOrNothing(client, '$streams')).map(linkData);
    expect(streams.slice(0, 3)).toEqual(['0@shop-1', '0@shop-2', '0@plain']);
    const references = await readOrNothing(client, '$category-shop');
    expect(references.map((item) => item.event?.type)).toEqual(['$@', '$@']);
    expect(references.map(linkData)).toEqual(['shop-1', 'shop-2']);
  });
});

describe('user JavaScript projections', () => {
  const linking = (from: string) => `fromStream("${from}").when({
    $any: function(state, ev) {
      linkTo('a-' + ev.data.some, ev)
    }
  });`;

  it('linkTo writes a $> link whose metadata names the event it was caused by, for events before and after', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('from', event('linky', { some: 'thing' }));
    await client.createProjection('linker', linking('from'), { emitEnabled: true });
    await client.appendToStream('from', event('linky', { some: 'thing' }));
    await client.appendToStream('elsewhere', event('linky', { some: 'thing' }));
    server.projections.catchUp();

    const sources = await collect(client.readStream('from'));
    const links = await readOrNothing(client, 'a-thing');
    expect(links.map((item) => item.event?.type)).toEqual(['$>', '$>']);
    expect(links.map(linkData)).toEqual(['0@from', '1@from']);
    expect(links.map((item) => (item.event?.metadata as Record<string, unknown>).$causedBy)).toEqual(
      sources.map((item) => item.event?.id),
    );
    const resolved = await readOrNothing(client, 'a-thing', true);
    expect(resolved.map((item) => item.event?.id)).toEqual(sources.map((item) => item.event?.id));
    expect(resolved[0].link?.id).toBe(links[0].event?.id);
    expect((await client.getProjectionStatus('linker')).projectionStatus).toBe('Running');
  });

  it('runs without being asked to catch up: a new event is linked on a later turn of the event loop', async () => {
    const { client } = await serverAndClient();
    await client.createProjection('linker', linking('from'), { emitEnabled: true });
    await client.appendToStream('from', event('linky', { some: 'later' }));
    await eventually('the link', async () => (await readOrNothing(client, 'a-later')).length === 1);
  });

  it('folds a state from $init and the handlers of its event types, read with getProjectionState', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('tally-1', [
      event('Added', { n: 2 }),
      event('Noise'),
      event('Added', { n: 3 }),
    ]);
    await client.createProjection(
      'tally',
      `fromAll().when({
        $init: function() { return { total: 0, seen: [] }; },
        Added: function(state, ev) { state.total += ev.data.n; state.seen.push(ev.streamId + '#' + ev.sequenceNumber); }
      });`,
    );
    await client.appendToStream('tally-2', event('Added', { n: 5 }));
    server.projections.catchUp();
    expect(await client.getProjectionState('tally')).toEqual({
      total: 10,
      seen: ['tally-1#0', 'tally-1#2', 'tally-2#0'],
    });
    expect(await client.getProjectionResult('tally')).toEqual(await client.getProjectionState('tally'));
  });

  it('fromCategory reads the events $by_category linked, resolved', async () => {
    const { server, client } = await serverAndClient();
    await client.enableProjection('$by_category');
    await client.appendToStream('cart-1', [event('Item', { sku: 'a' }), event('Item', { sku: 'b' })]);
    await client.appendToStream('cart-2', event('Item', { sku: 'c' }));
    await client.createProjection(
      'skus',
      `fromCategory('cart').when({ $init: function() { return []; }, Item: function(s, e) { s.push(e.data.sku); } });`,
    );
    server.projections.catchUp();
    expect(await client.getProjectionState('skus')).toEqual(['a', 'b', 'c']);
  });

  it('emit writes a JSON event whose metadata names its cause', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('in', event('Seen', { who: 'ada' }));
    await client.createProjection(
      'greeter',
      `fromStream('in').when({ Seen: function(s, e) { emit('out', 'Greeted', { hello: e.data.who }); } });`,
      { emitEnabled: true },
    );
    server.projections.catchUp();
    const [source] = await collect(client.readStream('in'));
    const [emitted] = await collect(client.readStream('out'));
    expect(emitted.event?.type).toBe('Greeted');
    expect(emitted.event?.data).toEqual({ hello: 'ada' });
    expect((emitted.event?.metadata as Record<string, unknown>).$causedBy).toBe(source.event?.id);
  });

  it('a projection that links without emitEnabled faults, with EventStoreDB’s reason, and writes nothing', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('from', event('linky', { some: 'thing' }));
    await client.createProjection('quiet', linking('from'));
    server.projections.catchUp();
    const status = await client.getProjectionStatus('quiet');
    expect(status.projectionStatus).toBe('Faulted');
    expect(status.stateReason).toContain(`'emit' is not allowed`);
    expect(await readOrNothing(client, 'a-thing')).toEqual([]);
  });

  it('a handler that throws faults the projection at that event, naming the error; nothing of it is written', async () => {
    const { server, client } = await serverAndClient();
    await client.appendToStream('from', [event('ok', { some: 'one' }), event('bad', { some: 'two' })]);
    await client.createProjection(
      'picky',
      `fromStream('from').when({ $any: function(s, e) {
        linkTo('picked-' + e.data.some, e);
        if (e.eventType === 'bad') throw new Error('refused ' + e.data.some);
      } });`,
      { emitEnabled: true },
    );
    server.projections.catchUp();
    const status = await client.getProjectionStatus('picky');
    expect(status.projectionStatus).toBe('Faulted');
    expect(status.stateReason).toBe('Error: refused two');
    expect(await readOrNothing(client, 'picked-one')).toHaveLength(1);
    expect(await readOrNothing(client, 'picked-two')).toEqual([]);
  });

  it('a query that does not evaluate is created faulted, naming the error; one that never returns faults too', async () => {
    const { server, client } = await serverAndClient();
    await client.createProjection('broken', `fromAll().when({ $any: function( { } });`);
    const broken = await client.getProjectionStatus('broken');
    expect(broken.projectionStatus).toBe('Faulted');
    expect(broken.stateReason).toMatch(/^SyntaxError/);

    await client.createProjection(
      'unsupported',
      `fromAll().partitionBy(function(e) { return e.streamId; });`,
    );
    expect((await client.getProjectionStatus('unsupported')).stateReason).toBe(
      "partitionBy() is not supported by the test server's projections",
    );

    await client.createProjection(
      'eager',
      `emit('out', 'Early', {}); fromAll().when({ $any: function() {} });`,
      {
        emitEnabled: true,
      },
    );
    expect((await client.getProjectionStatus('eager')).stateReason).toBe(
      'emit() may only be called from a handler',
    );

    await client.appendToStream('spin', event('Spin'));
    await client.createProjection(
      'spinner',
      `fromStream('spin').when({ Spin: function() { for (;;) {} } });`,
    );
    server.projections.catchUp();
    const spinner = await client.getProjectionStatus('spinner');
    expect(spinner.projectionStatus).toBe('Faulted');
    expect(spinner.stateReason).toContain('timed out');
  });

  it('an unknown projection is NotFound; a name is created once', async () => {
    const { client } = await serverAndClient();
    await expect(client.enableProjection('nope')).rejects.toThrow(NotFoundError);
    await expect(client.getProjectionState('nope')).rejects.toThrow(NotFoundError);
    await client.createProjection('once', `fromAll().when({ $any: function() {} });`);
    await expect(client.createProjection('once', `fromAll().when({ $any: function() {} });`)).rejects.toThrow(
      /already exists/,
    );
  });
});

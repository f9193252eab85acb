import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { positionToToken, START } from '@ledger/event-store';
import {
  startLedger,
  tempDataDir,
  uniqueIds,
  type LedgerTestApp,
} from '../../../../test/support/ledger-test-app';
import { RelationshipFeed } from './relationship-feed.service';

interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

/** Reads SSE events from the watch feed until `count` change events arrived. */
async function readChanges(
  ledger: LedgerTestApp,
  query: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<SseEvent[]> {
  const controller = new AbortController();
  const response = await fetch(`${ledger.baseUrl}/v1/watch${query}`, {
    headers: { authorization: `Bearer ${ledger.apiKey}`, ...headers },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = '';
  while (events.filter((e) => e.event === 'change').length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { event: 'message', data: undefined };
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(':');
        const value = rest.join(':').trimStart();
        if (field === 'event') event.event = value;
        else if (field === 'id') event.id = value;
        else if (field === 'data') event.data = JSON.parse(value);
      }
      events.push(event);
    }
  }
  controller.abort();
  return events.filter((e) => e.event === 'change');
}

describe('GET /v1/watch (change feed for caches)', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('streams relationship changes in log order with their tokens, live and resumable', async () => {
    const id = uniqueIds('watch');
    const [cam, owner, viewer] = [id('cam'), id('o'), id('v')];
    const start = await ledger.client.projection();
    const live = readChanges(ledger, `?after=${start.token}`, 3);
    const registered = await ledger.client.registerDevice({ deviceId: cam, ownerId: owner, actor: 'svc:p' });
    const granted = await ledger.client.grant(cam, { userId: viewer, actor: owner });
    const revoked = await ledger.client.revoke(cam, { userId: viewer, actor: owner });
    const events = (await live).filter((e) => e.data.deviceId === cam);
    expect(events.map((e) => [e.data.type, e.id])).toEqual([
      ['DeviceRegistered', registered.token],
      ['AccessGranted', granted.token],
      ['AccessRevoked', revoked.token],
    ]);
    expect(events[1].data.userIds).toEqual([viewer]);

    // A client that disconnected after the grant resumes from its last token and misses nothing.
    const resumed = await readChanges(ledger, '', 1, { 'last-event-id': granted.token });
    expect(resumed[0]).toMatchObject({ id: revoked.token, data: { type: 'AccessRevoked', deviceId: cam } });
  });

  it('refuses a malformed resume token and a missing key', async () => {
    expect((await ledger.http('GET', '/v1/watch?after=nope')).status).toBe(400);
    expect((await ledger.http('GET', '/v1/watch', undefined, { authorization: '' })).status).toBe(401);
  });

  it('ends open feeds on shutdown instead of holding the process open', async () => {
    const other = await startLedger();
    const response = await fetch(`${other.baseUrl}/v1/watch`, {
      headers: { authorization: `Bearer ${other.apiKey}` },
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await other.close();
    // The server ended the stream: reading runs to its end instead of waiting for heartbeats forever.
    let done = false;
    while (!done) ({ done } = await reader.read().catch(() => ({ done: true, value: undefined })));
    expect(done).toBe(true);
  });
});

/** A response that takes everything written but never hands it on, as a client that stopped reading. */
class UnreadResponse extends Writable {
  readonly written: string[] = [];
  readonly socket = null;
  constructor() {
    super({ highWaterMark: 64 });
  }
  writeHead(): this {
    return this;
  }
  override write(chunk: unknown, ...rest: any[]): boolean {
    this.written.push(String(chunk));
    return super.write(chunk as string, ...rest);
  }
  override _write(): void {
    // never calls back: the bytes stay queued, as on a socket nobody reads
  }
}

describe('GET /v1/watch limits', () => {
  let ledger: LedgerTestApp;
  beforeAll(async () => {
    ledger = await startLedger({
      env: {
        LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY: '2',
        LEDGER_WATCH_MAX_BUFFERED_EVENTS: '5',
        LEDGER_WATCH_MAX_RESUME_CHANGES: '3',
      },
    });
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('refuses a connection past the per-key limit with 429 and Retry-After, and admits again once one closed', async () => {
    const open = [new AbortController(), new AbortController()];
    const watch = (controller?: AbortController) =>
      fetch(`${ledger.baseUrl}/v1/watch`, {
        headers: { authorization: `Bearer ${ledger.apiKey}` },
        signal: controller?.signal,
      });
    for (const controller of open) expect((await watch(controller)).status).toBe(200);
    const refused = await watch();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /already has 2 open watch connections \(LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY\)/,
    );
    open[0].abort();
    const feed = ledger.app.get(RelationshipFeed);
    while (feed.openConnections > 1) await new Promise((resolve) => setTimeout(resolve, 10));
    const again = new AbortController();
    expect((await watch(again)).status).toBe(200);
    again.abort();
    open[1].abort();
    while (feed.openConnections > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  });

  it('answers 410 naming the oldest resumable token for a token older than the resume bound', async () => {
    const id = uniqueIds('watch-old');
    const tokens: string[] = [];
    for (let n = 0; n < 5; n++)
      tokens.push(
        (await ledger.client.registerDevice({ deviceId: id(`c${n}`), ownerId: 'o', actor: 'svc:p' })).token,
      );
    // The feed replays at most the last 3 changes: resuming after tokens[2] replays 2, after tokens[1] would be 3+.
    const resumed = await readChanges(ledger, `?after=${tokens[2]}`, 2);
    expect(resumed.map((e) => e.id)).toEqual([tokens[3], tokens[4]]);
    const gone = await ledger.http('GET', `/v1/watch?after=${tokens[1]}`);
    expect(gone.status).toBe(410);
    expect(gone.body).toMatchObject({ statusCode: 410, error: 'Gone' });
    expect(gone.body.message).toContain(`the oldest resumable token is ${tokens[2]}`);
    expect(gone.body.message).toMatch(/GET \/v1\/devices\/\{deviceId\}\/access/);
    expect((await ledger.http('GET', `/v1/watch?after=${positionToToken(START)}`)).status).toBe(410);
  });

  it('knows after a restart how far back tokens resume (read backwards from the log at start)', async () => {
    const dataDir = tempDataDir();
    // The embedded store: the count of changes must be this test's alone.
    const env = { EVENTSTORE_CONNECTION_STRING: '', LEDGER_WATCH_MAX_RESUME_CHANGES: '3' };
    const first = await startLedger({ dataDir, env });
    const tokens: string[] = [];
    try {
      for (let n = 0; n < 5; n++)
        tokens.push(
          (await first.client.registerDevice({ deviceId: `r${n}`, ownerId: 'o', actor: 'svc:p' })).token,
        );
    } finally {
      await first.close();
    }
    const again = await startLedger({ dataDir, env });
    try {
      const gone = await again.http('GET', `/v1/watch?after=${tokens[1]}`);
      expect(gone.status).toBe(410);
      expect(gone.body.message).toContain(`the oldest resumable token is ${tokens[2]}`);
      const resumed = await readChanges(again, `?after=${tokens[2]}`, 2);
      expect(resumed.map((e) => e.id)).toEqual([tokens[3], tokens[4]]);
    } finally {
      await again.close();
    }
  });

  it('ends the feed of a client that stops reading once it is more than the bound behind, saying how to resume', async () => {
    const feed = ledger.app.get(RelationshipFeed);
    const response = new UnreadResponse();
    await feed.open(response as unknown as ServerResponse, 'slow-reader', null, () => undefined);
    expect(feed.openConnections).toBe(1);
    const id = uniqueIds('watch-slow');
    for (let n = 0; n < 8; n++)
      await ledger.client.registerDevice({ deviceId: id(`c${n}`), ownerId: 'o', actor: 'svc:p' });
    expect(feed.openConnections).toBe(0);
    const last = response.written[response.written.length - 1];
    expect(last).toMatch(/^event: overflow\ndata: /);
    const final = JSON.parse(last.split('data: ')[1]) as { message: string; resumeAfter: string };
    expect(final.message).toMatch(/more than 5 changes behind \(LEDGER_WATCH_MAX_BUFFERED_EVENTS\)/);
    expect(final.message).toContain(`GET /v1/watch?after=${final.resumeAfter}`);
    // Only what the socket accepted before it filled was written; the rest was never queued past the bound.
    expect(response.written.filter((chunk) => chunk.startsWith('event: change')).length).toBeLessThan(5);
  });
});

import { startLedger, uniqueIds, type LedgerTestApp } from '../../../../test/support/ledger-test-app';

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

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { LedgerGrpcClient, LedgerGrpcError, loadLedgerPackage } from '@ledger/client';
import { Streams } from '@ledger/domain';
import {
  openEventStore,
  positionToToken,
  START,
  type AppendRequest,
  type EventStore,
} from '@ledger/event-store';
import { freePort, spawnLedger, TEST_API_KEY, type LedgerChild } from '../../../../test/support/ledger-child';
import {
  startLedger,
  tempDataDir,
  uniqueIds,
  type LedgerTestApp,
} from '../../../../test/support/ledger-test-app';
import { RelationshipFeed } from '../watch/relationship-feed.service';

type Wire = Record<string, any>;

/** A raw Watch call, so a test decides whether (and when) anything is read from it. */
class RawWatch {
  readonly call: grpc.ClientReadableStream<Wire>;
  /** Resolves once the server admitted the stream (response headers), rejects with its refusal. */
  readonly admitted: Promise<void>;
  private readonly client: grpc.Client;

  constructor(address: string, apiKey: string, request: Wire = {}, options: grpc.ChannelOptions = {}) {
    const loaded = grpc.loadPackageDefinition(loadLedgerPackage()) as any;
    this.client = new loaded.ledger.v1.LedgerService(address, grpc.credentials.createInsecure(), options);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${apiKey}`);
    this.call = (this.client as any).Watch(request, metadata);
    this.admitted = new Promise((resolve, reject) => {
      this.call.once('metadata', () => resolve());
      this.call.once('error', reject);
    });
    // Until a test reads, failures are kept for `admitted` or `readToEnd`, never thrown as unhandled.
    this.admitted.catch(() => undefined);
  }

  /** Reads every message up to the end of the stream, and the status it ended with. */
  readToEnd(): Promise<{ messages: Wire[]; status: grpc.StatusObject }> {
    const messages: Wire[] = [];
    return new Promise((resolve, reject) => {
      this.call.on('data', (message: Wire) => messages.push(message));
      this.call.once('status', (status: grpc.StatusObject) => resolve({ messages, status }));
      this.call.once('error', (error: grpc.ServiceError) =>
        error.code === grpc.status.OK ? undefined : reject(error),
      );
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

const WATCH_METHOD = (grpc.loadPackageDefinition(loadLedgerPackage()) as any).ledger.v1.LedgerService
  .service.Watch;

/**
 * A Watch over a bare HTTP/2 stream that is never read: unlike grpc-js's client, which keeps taking messages
 * into its own buffers whether the application reads them or not, this peer stops granting flow-control
 * credit once its window is used up, as a stalled client does.
 */
class StalledWatch {
  private readonly session: http2.ClientHttp2Session;
  readonly stream: http2.ClientHttp2Stream;
  readonly admitted: Promise<void>;

  constructor(address: string, apiKey: string, request: Wire = {}, windowBytes = 65_535) {
    this.session = http2.connect(`http://${address}`, { settings: { initialWindowSize: windowBytes } });
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': '/ledger.v1.LedgerService/Watch',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${apiKey}`,
    });
    this.stream.pause();
    const message: Buffer = WATCH_METHOD.requestSerialize(request);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    this.stream.end(frame);
    this.admitted = new Promise((resolve, reject) => {
      this.stream.once('response', (headers) =>
        headers['grpc-status'] === undefined ? resolve() : reject(new Error(String(headers['grpc-message']))),
      );
      this.stream.once('error', reject);
    });
  }

  /** Reads what was held back: the gRPC messages (each WatchResponse's bytes) and the status. */
  async readToEnd(): Promise<{ messages: Wire[]; status: string | undefined }> {
    const chunks: Buffer[] = [];
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => this.stream.once('trailers', resolve));
    this.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    this.stream.resume();
    await new Promise((resolve) => this.stream.once('end', resolve));
    const body = Buffer.concat(chunks);
    const messages: Wire[] = [];
    for (let at = 0; at < body.length; ) {
      const length = body.readUInt32BE(at + 1);
      messages.push(WATCH_METHOD.responseDeserialize(body.subarray(at + 5, at + 5 + length)));
      at += 5 + length;
    }
    return { messages, status: (await trailers)['grpc-status'] as string | undefined };
  }

  close(): void {
    this.stream.close();
    this.session.close();
  }
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

function registrations(count: number, prefix: string): AppendRequest[] {
  const at = '2024-02-16T09:00:00.000Z';
  return Array.from({ length: count }, (_unused, i) => {
    const deviceId = `${prefix}-${i}`;
    return {
      stream: Streams.device(deviceId),
      expectedRevision: 'no_stream',
      events: [
        {
          eventId: randomUUID(),
          type: 'DeviceRegistered',
          data: { deviceId, ownerId: `${prefix}-owner-${i}`, actor: 'svc:p', occurredAt: at, recordedAt: at },
        },
      ],
    };
  });
}

async function appendAll(store: EventStore, requests: AppendRequest[]): Promise<void> {
  for (const outcome of await store.appendMany(requests)) if (outcome instanceof Error) throw outcome;
}

const HISTORY_DEVICES = 20_000;
const WATCHERS = 30;
/** As for GET /v1/watch (watch-memory.e2e-spec.ts): about ten times what paged history measures. */
const MAX_RSS_GROWTH_BYTES = 60 * 1024 * 1024;

describe('gRPC Watch under clients that never read (service as a child process)', () => {
  let child: LedgerChild;
  let address: string;
  const dataDir = tempDataDir('ledger-grpc-watch-memory-');

  beforeAll(async () => {
    const store = await openEventStore({ dataDir, eventStoreConnectionString: null });
    try {
      for (let batch = 0; batch < HISTORY_DEVICES / 1000; batch++)
        await appendAll(store, registrations(1000, `hist-cam-${batch}`));
    } finally {
      await store.close();
    }
    const grpcPort = await freePort();
    child = await spawnLedger(dataDir, { EVENTSTORE_CONNECTION_STRING: '', GRPC_PORT: String(grpcPort) });
    address = `127.0.0.1:${grpcPort}`;
  }, 120_000);

  afterAll(async () => {
    await child?.kill('SIGKILL');
  });

  it('keeps memory bounded and the service answering while watchers resuming from the start never read', async () => {
    const pid = child.process.pid!;
    const fromStart = { after: positionToToken(START) };
    // Warm up the paths a watch uses once, so the baseline is not the first call's allocations.
    const warm = new StalledWatch(address, TEST_API_KEY, fromStart);
    await warm.admitted;
    warm.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = rssOf(pid);

    const watchers = Array.from({ length: WATCHERS }, () => new StalledWatch(address, TEST_API_KEY, fromStart));
    try {
      await Promise.all(watchers.map((w) => w.admitted));
      let peak = rssOf(pid);
      for (let probe = 0; probe < 10; probe++) {
        const live = await fetch(`${child.baseUrl}/health/live`, { signal: AbortSignal.timeout(30_000) });
        expect(live.status).toBe(200);
        peak = Math.max(peak, rssOf(pid));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const checker = new LedgerGrpcClient({ address, apiKey: TEST_API_KEY });
      try {
        const answer = await checker.check({ userId: 'hist-cam-1-owner-1', deviceId: 'hist-cam-1-1' });
        expect(answer.allowed).toBe(true);
      } finally {
        checker.close();
      }
      expect(peak - before).toBeLessThan(MAX_RSS_GROWTH_BYTES);
    } finally {
      for (const watcher of watchers) watcher.close();
    }
  });
});

describe('gRPC Watch limits (the same as GET /v1/watch)', () => {
  let ledger: LedgerTestApp;
  let address: string;
  let client: LedgerGrpcClient;
  const id = uniqueIds('grpc-watch');

  beforeAll(async () => {
    ledger = await startLedger({
      env: {
        GRPC_PORT: '0',
        HOST: '127.0.0.1',
        LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY: '2',
        LEDGER_WATCH_MAX_BUFFERED_EVENTS: '5',
        LEDGER_WATCH_MAX_RESUME_CHANGES: '3',
      },
    });
    address = `127.0.0.1:${ledger.grpcPort}`;
    client = new LedgerGrpcClient({ address, apiKey: ledger.apiKey });
  });
  afterAll(async () => {
    client?.close();
    await ledger?.close();
  });

  async function refusal(request: { after?: string } = {}): Promise<LedgerGrpcError> {
    try {
      for await (const message of client.watch(request)) throw new Error(`admitted: ${message.type}`);
    } catch (error) {
      if (error instanceof LedgerGrpcError) return error;
      throw error;
    }
    throw new Error('the stream ended without a status');
  }

  async function settled(feed: RelationshipFeed, open: number): Promise<void> {
    while (feed.openConnections > open) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  it('refuses a stream past the per-key limit with RESOURCE_EXHAUSTED and retry info, over gRPC and HTTP alike', async () => {
    const feed = ledger.app.get(RelationshipFeed);
    const open = [new RawWatch(address, ledger.apiKey), new RawWatch(address, ledger.apiKey)];
    try {
      for (const watch of open) await watch.admitted;
      const refused = await refusal();
      expect(grpc.status[refused.code]).toBe('RESOURCE_EXHAUSTED');
      expect(refused.details).toMatch(
        /already has 2 open watch connections \(LEDGER_WATCH_MAX_CONNECTIONS_PER_KEY\)/,
      );
      expect(refused.retryDelayMs).toBe(5000);
      // One budget per key, whichever transport holds the streams.
      expect((await ledger.http('GET', '/v1/watch')).status).toBe(429);
      open[0].close();
      await settled(feed, 1);
      const again = new RawWatch(address, ledger.apiKey);
      await again.admitted;
      again.close();
    } finally {
      for (const watch of open) watch.close();
    }
    await settled(feed, 0);
  });

  it('refuses a token older than the resume bound with OUT_OF_RANGE naming the oldest resumable token', async () => {
    const tokens: string[] = [];
    for (let n = 0; n < 5; n++)
      tokens.push(
        (await ledger.client.registerDevice({ deviceId: id(`old${n}`), ownerId: 'o', actor: 'svc:p' })).token,
      );
    // At most the last 3 changes replay: after tokens[2] is 2 changes back, after tokens[1] would be 3+.
    const resumed: string[] = [];
    for await (const message of client.watch({ after: tokens[2] })) {
      if (message.type === 'change') resumed.push(message.change.token);
      if (resumed.length === 2) break;
    }
    expect(resumed).toEqual([tokens[3], tokens[4]]);
    const gone = await refusal({ after: tokens[1] });
    expect(grpc.status[gone.code]).toBe('OUT_OF_RANGE');
    expect(gone.details).toContain(`the oldest resumable token is ${tokens[2]}`);
    expect(gone.details).toContain('Watch without after');
    expect(gone.oldestResumableToken).toBe(tokens[2]);
    expect(grpc.status[(await refusal({ after: positionToToken(START) })).code]).toBe('OUT_OF_RANGE');
  });

  it('ends the stream of a client that stops reading with an overflow message, having buffered a bounded amount', async () => {
    const feed = ledger.app.get(RelationshipFeed);
    await settled(feed, 0);
    // A 1 KiB window: a few changes fill it.
    const slow = new StalledWatch(address, ledger.apiKey, {}, 1024);
    try {
      await slow.admitted;
      expect(feed.openConnections).toBe(1);
      // Changes land one by one until the window and the server's stream buffer are full, then 5 more.
      let appended = 0;
      for (let batch = 0; feed.openConnections > 0 && batch < 20; batch++) {
        for (const one of registrations(10, id(`slow${batch}`))) await appendAll(ledger.store, [one]);
        appended += 10;
        const deadline = Date.now() + 1000;
        while (feed.openConnections > 0 && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(feed.openConnections).toBe(0);

      const { messages, status } = await slow.readToEnd();
      expect(status).toBe(String(grpc.status.OK));
      const last = messages[messages.length - 1];
      expect(Object.keys(last)).toEqual(['overflow']);
      expect(last.overflow.message).toMatch(/more than 5 changes behind \(LEDGER_WATCH_MAX_BUFFERED_EVENTS\)/);
      expect(last.overflow.message).toContain('gRPC: Watch with after');
      const changes = messages.filter((m) => m.change);
      expect(changes.length).toBeGreaterThan(0);
      // Everything before the overflow arrived in order, up to the token it names.
      expect(changes[changes.length - 1].change.token).toBe(last.overflow.resumeAfter);
      expect(changes.length).toBeLessThan(appended);
    } finally {
      slow.close();
    }
  });
});

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type LedgerConfig } from '@ledger/config';
import { loadExportSigner, verifyExport, type ExportSigner } from '@ledger/audit-trail';
import { Streams, viewShardFor } from '@ledger/domain';
import {
  openEventStore,
  positionToToken,
  StoreUnavailableError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
} from '@ledger/event-store';
import { at, LedgerHistory, writeSampleHistory } from '../../../audit-trail/src/testing/ledger-history';
import { AuditService, ExportNotRecordedError } from './audit-service';
import { InlineAuditWork } from './audit-work';
import { HeavyWorkBusyError, HeavyWorkGate } from './heavy-work-gate';
import { AUDIT_WORKER_NICENESS } from './audit-worker-job';
import { EXPOSURES_PER_ANSWER_PIECE } from './replay-answer';
import { WorkerAuditWork } from './worker-audit-work';
import { niceOfThreads } from '../../../../test/support/thread-nice';

/** A store whose appends to the audit stream fail (a full disk, say) and which notes when each append came. */
class FailingAuditAppends implements EventStore {
  readonly name: string;
  failAudit = false;
  readonly appendsSeen: AppendRequest[] = [];

  constructor(
    private readonly inner: EventStore,
    private readonly onAppend: () => void = () => undefined,
  ) {
    this.name = inner.name;
  }

  append(request: AppendRequest): Promise<AppendResult> {
    this.appendsSeen.push(request);
    this.onAppend();
    if (this.failAudit && request.stream === Streams.audit) {
      return Promise.reject(new StoreUnavailableError('disk full (simulated)'));
    }
    return this.inner.append(request);
  }
  appendSerialized: EventStore['appendSerialized'] = (request) => this.inner.appendSerialized(request);
  appendMany: EventStore['appendMany'] = (requests) => this.inner.appendMany(requests);
  readStream: EventStore['readStream'] = (stream, options) => this.inner.readStream(stream, options);
  readAll: EventStore['readAll'] = (options) => this.inner.readAll(options);
  readAllData: EventStore['readAllData'] = (options) => this.inner.readAllData(options);
  subscribeToAll: EventStore['subscribeToAll'] = (options) => this.inner.subscribeToAll(options);
  subscribeToAllStored: EventStore['subscribeToAllStored'] = (options) =>
    this.inner.subscribeToAllStored(options);
  headPosition: EventStore['headPosition'] = () => this.inner.headPosition();
  close: EventStore['close'] = () => this.inner.close();
}

async function* chunksOf(text: string): AsyncGenerator<string> {
  yield text;
}

describe('the audit service', () => {
  let config: LedgerConfig;
  let inner: EventStore;
  let signer: ExportSigner;

  beforeAll(async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-audit-service-'));
    config = loadConfig({ LEDGER_DATA_DIR: dataDir });
    inner = await openEventStore(config);
    signer = loadExportSigner(config);
    await writeSampleHistory(inner);
  });
  afterAll(async () => {
    await inner.close();
  });

  it('records the export before it releases the signed manifest, and answers the record token', async () => {
    let written = '';
    let writtenWhenRecorded: string | null = null;
    const store = new FailingAuditAppends(inner, () => (writtenWhenRecorded = written));
    const audit = new AuditService(store, signer, new InlineAuditWork(store, signer));
    const result = await audit.exportTrail({ deviceId: 'cam1' }, 'ndjson', 'test:auditor', (chunk) => {
      written += chunk;
    });
    expect(writtenWhenRecorded).not.toBeNull();
    expect(writtenWhenRecorded).not.toContain('"manifest"');
    expect(written.trimEnd().split('\n').pop()).toMatch(/^\{"manifest":/);
    expect(await verifyExport(chunksOf(written), signer.publicKey)).toMatchObject({ ok: true });
    const [recorded] = await inner.readStream(Streams.audit, { direction: 'backwards', maxCount: 1 });
    expect(recorded).toMatchObject({ type: 'AuditTrailExported', data: { count: result.summary.count } });
    expect(positionToToken(recorded.position)).toBe(result.token);
  });

  it('withholds the manifest when the export cannot be recorded: what was sent does not verify', async () => {
    const store = new FailingAuditAppends(inner);
    store.failAudit = true;
    const audit = new AuditService(store, signer, new InlineAuditWork(store, signer));
    const before = (await inner.readStream(Streams.audit)).length;
    let written = '';
    const run = audit.exportTrail({ deviceId: 'cam1' }, 'ndjson', 'test:auditor', (chunk) => {
      written += chunk;
    });
    await expect(run).rejects.toBeInstanceOf(ExportNotRecordedError);
    expect(written.length).toBeGreaterThan(0);
    expect(written).not.toContain('"manifest"');
    expect(await verifyExport(chunksOf(written), signer.publicKey)).toMatchObject({ ok: false });
    expect(await inner.readStream(Streams.audit)).toHaveLength(before);
  });

  it('answers a replay with the token of its own IncidentReplayed record', async () => {
    const audit = new AuditService(inner, signer, new InlineAuditWork(inner, signer));
    const answer = await audit.replayAnswer({}, { kind: 'json' }, 'test:security');
    const body = JSON.parse(await answer.text());
    const [recorded] = await inner.readStream(Streams.audit, { direction: 'backwards', maxCount: 1 });
    expect(recorded).toMatchObject({ eventId: body.recorded.eventId, type: 'IncidentReplayed' });
    expect(positionToToken(recorded.position)).toBe(body.recorded.token);
    expect(recorded.data.digest).toBe(body.digest);
  });

  it('hands the same report out whole, as NDJSON and in pages, with one digest over the whole report', async () => {
    const audit = new AuditService(inner, signer, new InlineAuditWork(inner, signer));
    const whole = JSON.parse(await (await audit.replayAnswer({}, { kind: 'json' }, 'test:security')).text());
    expect(whole.exposures.length).toBeGreaterThan(2);
    const lines = (await (await audit.replayAnswer({}, { kind: 'ndjson' }, 'test:security')).text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // Each replay reads one record more (the previous replay's): the log range moves, the report does not.
    expect(lines[0].report).toEqual({
      window: whole.window,
      logRange: expect.objectContaining({ from: whole.logRange.from }),
      summary: whole.summary,
      digest: whole.digest,
    });
    expect(lines.slice(1, -1).map((line) => line.exposure)).toEqual(whole.exposures);
    expect(Object.keys(lines[lines.length - 1])).toEqual(['recorded']);
    const paged: unknown[] = [];
    for (let offset: number | null = 0; offset !== null;) {
      const page = JSON.parse(
        await (await audit.replayAnswer({}, { kind: 'page', offset, limit: 2 }, 'test:security')).text(),
      );
      expect(page.digest).toBe(whole.digest);
      expect(page.page.total).toBe(whole.exposures.length);
      paged.push(...page.exposures);
      offset = page.page.nextOffset;
    }
    expect(paged).toEqual(whole.exposures);
  });

  it('runs the same work on a worker thread with its own store handle, to the same answer', async () => {
    const inline = new AuditService(inner, signer, new InlineAuditWork(inner, signer));
    const worker = new AuditService(inner, signer, new WorkerAuditWork(config));
    const expected = JSON.parse(await (await inline.replayAnswer({}, { kind: 'json' }, 'test:a')).text());
    const got = JSON.parse(await (await worker.replayAnswer({}, { kind: 'json' }, 'test:a')).text());
    expect(got.digest).toBe(expected.digest);
    expect(got.exposures).toEqual(expected.exposures);
    let exported = '';
    await worker.exportTrail({ userId: 'alice' }, 'csv', 'test:a', (chunk) => void (exported += chunk));
    expect(await verifyExport(chunksOf(exported), signer.publicKey)).toMatchObject({
      ok: true,
      format: 'csv',
    });
    expect(await worker.rebuild()).toEqual(
      expect.objectContaining({ digest: (await inline.rebuild()).digest }),
    );
  });

  it('refuses work past the limit of its kind instead of queueing it, and frees the slot afterwards', async () => {
    const gate = new HeavyWorkGate({ replay: 1, export: 1, rebuild: 1 });
    const audit = new AuditService(inner, signer, new InlineAuditWork(inner, signer), gate);
    const first = audit.replayAnswer({}, { kind: 'json' }, 'test:a');
    await expect(audit.replayAnswer({}, { kind: 'json' }, 'test:b')).rejects.toBeInstanceOf(
      HeavyWorkBusyError,
    );
    // Another kind has slots of its own.
    const prepared = audit.beginExport({ deviceId: 'cam1' }, 'ndjson', 'test:c');
    expect(() => audit.beginExport({ deviceId: 'cam1' }, 'ndjson', 'test:d')).toThrow(HeavyWorkBusyError);
    prepared.cancel();
    const answer = await first;
    // On the record, but its answer not yet sent: the replay still holds its slot.
    await expect(audit.replayAnswer({}, { kind: 'json' }, 'test:e')).rejects.toBeInstanceOf(
      HeavyWorkBusyError,
    );
    await answer.text();
    const unsent = await audit.replayAnswer({}, { kind: 'json' }, 'test:f');
    // A client that goes away: closing the answer frees the slot too.
    unsent.close();
    const last = await audit.replayAnswer({}, { kind: 'json' }, 'test:g');
    expect(JSON.parse(await last.text())).toMatchObject({ recorded: { token: last.recorded.token } });
  });
});

describe('a large replay answer on the HTTP service', () => {
  const strangers = 2 * EXPOSURES_PER_ANSWER_PIECE + 500;
  let config: LedgerConfig;
  let store: EventStore;
  let signer: ExportSigner;

  beforeAll(async () => {
    config = loadConfig({ LEDGER_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-audit-large-')) });
    store = await openEventStore(config);
    signer = loadExportSigner(config);
    await new LedgerHistory(store).register('cam-big', 'alice', 0);
    // Every view by a stranger: one exposure each.
    await store.append({
      stream: Streams.views(viewShardFor('cam-big')),
      expectedRevision: 'any',
      events: Array.from({ length: strangers }, (_, i) => ({
        eventId: randomUUID(),
        type: 'MediaViewed',
        data: {
          viewerId: `stranger-${i}`,
          deviceId: 'cam-big',
          mediaId: `m-${i}`,
          mediaType: 'thumbnail',
          action: 'delivered',
          occurredAt: at(10 + i),
          recordedAt: at(10 + i),
        },
      })),
    });
  });
  afterAll(async () => {
    await store.close();
  });

  it('is worked out at a lower scheduling priority than the service thread, which keeps its own', async () => {
    const audit = new AuditService(store, signer, new WorkerAuditWork(config));
    const before = niceOfThreads();
    const answer = await audit.replayAnswer({}, { kind: 'json' }, 'test:priority');
    try {
      // The worker holds the report until the answer is taken: it is one of the threads added meanwhile.
      const added = [...niceOfThreads()].filter(([thread]) => !before.has(thread));
      expect(added.some(([, nice]) => nice >= AUDIT_WORKER_NICENESS)).toBe(true);
      expect(niceOfThreads().get(process.pid)).toBe(before.get(process.pid));
    } finally {
      answer.close();
    }
  });

  it('comes over from its worker in bounded pieces while the service thread keeps turning', async () => {
    const audit = new AuditService(store, signer, new WorkerAuditWork(config));
    const answer = await audit.replayAnswer({}, { kind: 'json' }, 'test:large');
    // Stands for the checks the service thread answers meanwhile: one count per turn of its event loop.
    let turns = 0;
    let turning = true;
    const turn = (): void => {
      if (!turning) return;
      turns++;
      setImmediate(turn);
    };
    setImmediate(turn);
    const pieces: Uint8Array[] = [];
    const turnsAtPiece: number[] = [];
    try {
      for await (const piece of answer) {
        pieces.push(piece);
        turnsAtPiece.push(turns);
      }
    } finally {
      turning = false;
    }
    const text = Buffer.concat(pieces).toString('utf8');
    const body = JSON.parse(text);
    expect(body.exposures).toHaveLength(strangers);
    expect(body.recorded).toEqual({ eventId: answer.recorded.eventId, token: answer.recorded.token });
    // Never the whole answer in one message, one string or one write: a piece is at most a piece's exposures.
    expect(pieces.length).toBeGreaterThan(strangers / EXPOSURES_PER_ANSWER_PIECE);
    const largestExposure = Math.max(...body.exposures.map((e: object) => JSON.stringify(e).length));
    for (const piece of pieces) {
      expect(piece.byteLength).toBeLessThanOrEqual(EXPOSURES_PER_ANSWER_PIECE * (largestExposure + 1) + 1024);
    }
    expect(turnsAtPiece[turnsAtPiece.length - 1]).toBeGreaterThan(turnsAtPiece[0]);
  });
});

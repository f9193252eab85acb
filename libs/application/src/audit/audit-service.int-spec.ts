import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type LedgerConfig } from '@ledger/config';
import { loadExportSigner, verifyExport, type ExportSigner } from '@ledger/audit-trail';
import { Streams } from '@ledger/domain';
import {
  openEventStore,
  positionToToken,
  StoreUnavailableError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
} from '@ledger/event-store';
import { writeSampleHistory } from '../../../audit-trail/src/testing/ledger-history';
import { AuditService, ExportNotRecordedError } from './audit-service';
import { InlineAuditWork } from './audit-work';
import { HeavyWorkBusyError, HeavyWorkGate } from './heavy-work-gate';
import { WorkerAuditWork } from './worker-audit-work';

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
    const body = JSON.parse(answer.body);
    const [recorded] = await inner.readStream(Streams.audit, { direction: 'backwards', maxCount: 1 });
    expect(recorded).toMatchObject({ eventId: body.recorded.eventId, type: 'IncidentReplayed' });
    expect(positionToToken(recorded.position)).toBe(body.recorded.token);
    expect(recorded.data.digest).toBe(body.digest);
  });

  it('hands the same report out whole, as NDJSON and in pages, with one digest over the whole report', async () => {
    const audit = new AuditService(inner, signer, new InlineAuditWork(inner, signer));
    const whole = JSON.parse((await audit.replayAnswer({}, { kind: 'json' }, 'test:security')).body);
    expect(whole.exposures.length).toBeGreaterThan(2);
    const lines = (await audit.replayAnswer({}, { kind: 'ndjson' }, 'test:security')).body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
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
        (await audit.replayAnswer({}, { kind: 'page', offset, limit: 2 }, 'test:security')).body,
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
    const expected = JSON.parse((await inline.replayAnswer({}, { kind: 'json' }, 'test:a')).body);
    const got = JSON.parse((await worker.replayAnswer({}, { kind: 'json' }, 'test:a')).body);
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
    await first;
    await expect(audit.replayAnswer({}, { kind: 'json' }, 'test:e')).resolves.toBeDefined();
  });
});

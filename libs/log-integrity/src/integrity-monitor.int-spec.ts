import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEventStore, readAllPages, type EventStore } from '@ledger/event-store';
import { IntegrityMonitor, type HeadPolicy } from './integrity-monitor';
import { isTreeHeadEvent, parseTreeHead, type TreeHead } from './tree-head';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = {
  keyId: 'ed25519:00000000000000aa',
  sign: (t: string) => sign(null, Buffer.from(t), privateKey).toString('base64'),
};
const key = {
  keyId: signer.keyId,
  verify: (t: string, s: string) => verify(null, Buffer.from(t), publicKey, Buffer.from(s, 'base64')),
};

async function headsIn(store: EventStore): Promise<TreeHead[]> {
  const heads: TreeHead[] = [];
  for await (const page of readAllPages(store)) {
    for (const event of page) {
      if (!isTreeHeadEvent(event)) continue;
      const parsed = parseTreeHead(event.data);
      if (parsed.ok) heads.push(parsed.head);
    }
  }
  return heads;
}

const views = (n: number) =>
  Array.from({ length: n }, (_unused, i) => ({ eventId: randomUUID(), type: 'MediaViewed', data: { n: i } }));

async function until(condition: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('IntegrityMonitor on the embedded store', () => {
  let dir: string;
  let store: EventStore;
  const monitors: IntegrityMonitor[] = [];
  const monitor = (policy: HeadPolicy) => {
    const created = new IntegrityMonitor(store, { dataDir: dir, signer, key, policy });
    monitors.push(created);
    created.start();
    return created;
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-monitor-'));
    store = await openEventStore({ dataDir: dir, eventStoreConnectionString: null });
  });
  afterEach(async () => {
    for (const m of monitors.splice(0)) await m.stop();
    await store.close();
  });

  it('signs a head every N events (heads themselves not counted), each over everything before it', async () => {
    const m = monitor({ everyEvents: 5, everySeconds: 0 });
    await m.whenVerified();
    const append3 = () => store.append({ stream: 'views-1', expectedRevision: 'any', events: views(3) });
    await append3();
    await append3();
    await until(async () => (await headsIn(store)).length === 1);
    await append3();
    await append3();
    await until(async () => (await headsIn(store)).length === 2);
    const heads = await headsIn(store);
    expect(heads.map((h) => h.treeSize)).toEqual([6, 13]);
    for (const head of heads) expect(m.rootHash(head.treeSize)).toBe(head.rootHash);
  });

  it('signs a head every T seconds when the log grew, and not when only its own head was added', async () => {
    const m = monitor({ everyEvents: 0, everySeconds: 1 });
    await m.whenVerified();
    await store.append({ stream: 'views-1', expectedRevision: 'any', events: views(2) });
    await until(async () => (await headsIn(store)).length === 1);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect((await headsIn(store)).map((h) => h.treeSize)).toEqual([2]);
  });

  it('records its state, and a restart recomputes the log against it and the heads: intact', async () => {
    const first = monitor({ everyEvents: 0, everySeconds: 0 });
    await store.append({ stream: 'views-1', expectedRevision: 'any', events: views(10) });
    const head = await first.signHead();
    await first.stop();
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'integrity', 'state.json'), 'utf8'));
    expect(state).toMatchObject({ leaves: 11, store: store.name });
    expect(fs.statSync(path.join(dir, 'integrity', 'leaves.bin')).size).toBe(11 * 32);

    const second = monitor({ everyEvents: 0, everySeconds: 0 });
    await second.whenVerified();
    expect(second.status()).toMatchObject({
      state: 'intact',
      treeSize: 11,
      verifiedHeads: 1,
      latestHead: head,
    });
  });
});

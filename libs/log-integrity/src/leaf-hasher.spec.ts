import type { StoredEvent } from '@ledger/event-store';
import { storedLeafText } from './leaf-bytes';
import { hashLeafText, toHex } from './merkle-hash';
import { LeafBatch, LeafHasher } from './leaf-hasher';
import { MerkleTree } from './merkle-tree';

const text = (i: number): string => `{"leaf":${i},"note":"é\\n漢😀"}`;

describe('LeafHasher (leaves and nodes hashed on a worker thread)', () => {
  it('continues a tree of any size exactly as appending on this thread would, batch after batch, its buffers reused', async () => {
    for (const start of [0, 1, 2, 7, 64, 333]) {
      const local = new MerkleTree();
      const remote = new MerkleTree();
      for (let i = 0; i < start; i++) {
        local.append(hashLeafText(text(i)));
        remote.append(hashLeafText(text(i)));
      }
      const hasher = LeafHasher.continuing(remote);
      try {
        let next = start;
        for (const batchSize of [1, 3, 16, 255, 1, 1000]) {
          const texts = Array.from({ length: batchSize }, (_unused, k) => text(next + k));
          next += batchSize;
          const batch = new LeafBatch();
          for (const leaf of texts) batch.add(leaf);
          const hashes = await hasher.hash(batch);
          expect(batch.count).toBe(0);
          let offset = 0;
          for (const leaf of texts) {
            local.append(hashLeafText(leaf));
            offset = remote.appendHashed(hashes, offset);
          }
          expect(offset).toBe(hashes.length);
          // Its buffer goes back to the worker, which writes the next answer into it.
          hasher.recycle(hashes);
          expect(toHex(remote.root())).toBe(toHex(local.root()));
        }
        expect(remote.size).toBe(local.size);
        for (const size of [1, start + 1, remote.size - 1, remote.size]) {
          expect(toHex(remote.root(size))).toBe(toHex(local.root(size)));
          expect(remote.inclusionProof(size - 1, size).map(toHex)).toEqual(
            local.inclusionProof(size - 1, size).map(toHex),
          );
        }
      } finally {
        await hasher.close();
      }
    }
  });

  it("writes a stored event's leaf piece by piece as exactly the UTF-8 bytes of its leaf text", () => {
    const long = 'ü'.repeat(40) + 'x'.repeat(80);
    const events: StoredEvent[] = [
      {
        eventId: '0b8f5e0e-3c1d-4a57-9d7e-2f1f3c5b6a10',
        stream: 'views-3',
        revision: 12n,
        type: 'MediaViewed',
        dataJson: '{"viewerId":"user-1","n":3}',
        metadataJson: '{}',
        position: { commit: 18n, prepare: 18n },
      },
      {
        eventId: 'id "quoted" \\ and\ttab',
        stream: 'views-é漢😀',
        revision: 18446744073709551615n,
        type: 'Type\u0001',
        dataJson: `{"note":"${long}","emoji":"😀","escaped":"\\n\\u0000"}`,
        metadataJson: `{"k":"${long}"}`,
        position: { commit: 18446744073709551615n, prepare: 18446744073709551614n },
      },
      {
        eventId: 'x'.repeat(70),
        stream: 'ledger-heads',
        revision: 0n,
        type: 'TreeHeadSigned',
        // Text a foreign writer stored: a lone surrogate, encoded as U+FFFD on both paths.
        dataJson: '{"lone":"\ud800"}',
        metadataJson: '{"idempotency":{"key":"k"}}',
        position: { commit: 0n, prepare: 0n },
      },
    ];
    const byEvent = new LeafBatch();
    const byText = new LeafBatch();
    for (const event of events) {
      byEvent.addStored(event);
      byText.add(storedLeafText(event));
    }
    const written = byEvent.take();
    const expected = byText.take();
    expect([...written.ends]).toEqual([...expected.ends]);
    const end = expected.ends[expected.ends.length - 1];
    expect(Buffer.from(written.bytes, 0, end).equals(Buffer.from(expected.bytes, 0, end))).toBe(true);
  });

  it('refuses further work once closed, so a caller falls back to hashing itself', async () => {
    const hasher = LeafHasher.continuing(new MerkleTree());
    await hasher.close();
    const batch = new LeafBatch();
    batch.add(text(0));
    await expect(hasher.hash(batch)).rejects.toThrow('closed');
    expect(hasher.failed).not.toBeNull();
  });
});

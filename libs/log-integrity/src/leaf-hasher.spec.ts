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

  it('refuses further work once closed, so a caller falls back to hashing itself', async () => {
    const hasher = LeafHasher.continuing(new MerkleTree());
    await hasher.close();
    const batch = new LeafBatch();
    batch.add(text(0));
    await expect(hasher.hash(batch)).rejects.toThrow('closed');
    expect(hasher.failed).not.toBeNull();
  });
});

import fc from 'fast-check';
import {
  referenceConsistencyProof,
  referenceInclusionPath,
  referenceLeafHash,
  referenceRoot,
  referenceVerifyConsistency,
  referenceVerifyInclusion,
} from '../../../test/support/merkle-reference';
import { EMPTY_TREE_ROOT, fromHex, hashLeaf, toHex } from './merkle-hash';
import { MerkleTree, TreeRangeError } from './merkle-tree';
import { verifyConsistency, verifyInclusion } from './proof-verifier';

const leafBytes = (i: number): Buffer => Buffer.from(`leaf-${i}`);

function treeOf(n: number): { tree: MerkleTree; leaves: string[] } {
  const tree = new MerkleTree();
  const leaves: string[] = [];
  for (let i = 0; i < n; i++) {
    tree.append(hashLeaf(leafBytes(i)));
    leaves.push(referenceLeafHash(leafBytes(i)));
  }
  return { tree, leaves };
}

const hex = (hashes: readonly Buffer[]): string[] => hashes.map(toHex);
const bufs = (hashes: readonly string[]): Buffer[] => hashes.map((h) => fromHex(h) as Buffer);

describe('MerkleTree (RFC 9162), checked against an independent implementation', () => {
  it('matches the RFC 6962 / Certificate Transparency test vectors', () => {
    // The leaf inputs and roots of certificate-transparency's merkle_tree_test.
    const inputs = [
      '',
      '00',
      '10',
      '2021',
      '3031',
      '40414243',
      '5051525354555657',
      '606162636465666768696a6b6c6d6e6f',
    ];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const tree = new MerkleTree();
    expect(toHex(tree.root())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(tree.root().equals(EMPTY_TREE_ROOT)).toBe(true);
    inputs.forEach((input, i) => {
      tree.append(hashLeaf(Buffer.from(input, 'hex')));
      expect(toHex(tree.root())).toBe(roots[i]);
    });
    // Earlier sizes stay answerable after growth.
    roots.forEach((root, i) => expect(toHex(tree.root(i + 1))).toBe(root));
  });

  it('gives the reference roots, audit paths and consistency proofs for every size and index up to 40', () => {
    const { tree, leaves } = treeOf(40);
    for (let n = 0; n <= 40; n++) {
      const prefix = leaves.slice(0, n);
      const root = referenceRoot(prefix);
      expect(toHex(tree.root(n))).toBe(root);
      for (let m = 0; m < n; m++) {
        const path = hex(tree.inclusionProof(m, n));
        expect(path).toEqual(referenceInclusionPath(m, prefix));
        expect(referenceVerifyInclusion(leaves[m], m, n, path, root)).toBe(true);
        expect(verifyInclusion(tree.leafHash(m), m, n, bufs(path), tree.root(n))).toBe(true);
      }
      for (let m = 0; m <= n; m++) {
        const proof = hex(tree.consistencyProof(m, n));
        expect(proof).toEqual(referenceConsistencyProof(m, prefix));
        const oldRoot = referenceRoot(leaves.slice(0, m));
        expect(referenceVerifyConsistency(m, n, proof, oldRoot, root)).toBe(true);
        expect(verifyConsistency(m, n, bufs(proof), fromHex(oldRoot) as Buffer, tree.root(n))).toBe(true);
      }
    }
  });

  it('rejects, in both verifiers, a proof with one hash changed, dropped or added, a wrong index, or another root', () => {
    const { tree, leaves } = treeOf(300);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom('flip', 'drop', 'add', 'index', 'root'),
        (n, mSeed, which, mutation) => {
          const m = mSeed % n;
          // A root binds its size only through the signed head, so the size is never mutated alone.
          let root = tree.root(n);
          let path = hex(tree.inclusionProof(m, n));
          let index = m;
          const size = n;
          if (mutation === 'flip' && path.length > 0) {
            const at = which % path.length;
            path = path.map((h, i) => (i === at ? `${h[0] === '0' ? '1' : '0'}${h.slice(1)}` : h));
          } else if (mutation === 'drop' && path.length > 0) path = path.slice(1);
          else if (mutation === 'add') path = [...path, referenceLeafHash(Buffer.from('extra'))];
          else if (mutation === 'index') index = (m + 1 + (which % Math.max(1, n - 1))) % n;
          else if (mutation === 'root') root = tree.root(n === 300 ? 299 : n + 1);
          const changed =
            index !== m || mutation === 'root' || path.join() !== hex(tree.inclusionProof(m, n)).join();
          if (!changed) return;
          expect(verifyInclusion(tree.leafHash(m), index, size, bufs(path), root)).toBe(false);
          expect(referenceVerifyInclusion(leaves[m], index, size, path, toHex(root))).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 299 }), fc.nat(), fc.nat(), (m, nSeed, which) => {
        const n = m + 1 + (nSeed % (300 - m));
        const proof = hex(tree.consistencyProof(m, n));
        const at = which % proof.length;
        const flipped = proof.map((h, i) => (i === at ? `${h[0] === 'f' ? 'e' : 'f'}${h.slice(1)}` : h));
        const oldRoot = tree.root(m);
        expect(verifyConsistency(m, n, bufs(flipped), oldRoot, tree.root(n))).toBe(false);
        expect(referenceVerifyConsistency(m, n, flipped, toHex(oldRoot), toHex(tree.root(n)))).toBe(false);
        // A proof for another old tree does not pass for this one.
        const otherOld = hashLeaf(Buffer.from('not the old tree'));
        expect(verifyConsistency(m, n, bufs(proof), otherOld, tree.root(n))).toBe(false);
        expect(referenceVerifyConsistency(m, n, proof, toHex(otherOld), toHex(tree.root(n)))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses sizes and indexes outside the tree', () => {
    const { tree } = treeOf(5);
    expect(() => tree.root(6)).toThrow(TreeRangeError);
    expect(() => tree.inclusionProof(5, 5)).toThrow(TreeRangeError);
    expect(() => tree.consistencyProof(4, 6)).toThrow(TreeRangeError);
    expect(() => tree.consistencyProof(5, 4)).toThrow(TreeRangeError);
    expect(tree.consistencyProof(0, 5)).toEqual([]);
    expect(tree.consistencyProof(5, 5)).toEqual([]);
  });
});

describe('MerkleTree snapshots', () => {
  it('answer the same roots and proofs as the tree they were taken of, at every size, while it keeps growing', () => {
    const { tree } = treeOf(37);
    const snapshot = MerkleTree.fromSnapshot(tree.snapshot());
    for (let i = 37; i < 80; i++) tree.append(hashLeaf(leafBytes(i)));
    expect(snapshot.size).toBe(37);
    for (let size = 1; size <= 37; size++) {
      expect(toHex(snapshot.root(size))).toBe(toHex(tree.root(size)));
      for (let index = 0; index < size; index++) {
        expect(hex(snapshot.inclusionProof(index, size))).toEqual(hex(tree.inclusionProof(index, size)));
      }
      // Asked twice: the kept right-edge roots give the same answers.
      expect(hex(snapshot.consistencyProof(size, 37))).toEqual(hex(tree.consistencyProof(size, 37)));
      expect(hex(snapshot.consistencyProof(size, 37))).toEqual(hex(tree.consistencyProof(size, 37)));
    }
    expect(() => snapshot.append(hashLeaf(leafBytes(0)))).toThrow(TreeRangeError);
  });
});

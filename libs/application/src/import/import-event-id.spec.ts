import { createHash } from 'node:crypto';
import { importEventId, ImportEventIds } from './import-event-id';

/** The definition, spelled with node's SHA-1: a version-5 UUID of `importId:line` in the import namespace. */
function reference(importId: string, line: number): string {
  const namespace = Buffer.from('6f1c2a8e4b7d4e0f9a3c5d2b1e8f7a60', 'hex');
  const hash = createHash('sha1').update(namespace).update(`${importId}:${line}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

describe('import event ids', () => {
  // Every prefix length modulo the SHA-1 block, so the line's digits and the padding fall on every side of a
  // block boundary; the id the CLI derives from a file (sha256:<hex>); the longest --import-id.
  const importIds = [
    ...Array.from({ length: 70 }, (_, n) => `i${'d'.repeat(n)}`),
    `sha256:${'0123456789abcdef'.repeat(4)}`,
    'x'.repeat(128),
  ];
  const lines = [
    0,
    1,
    9,
    10,
    99,
    100,
    4096,
    65_535,
    999_999,
    1_000_000,
    2 ** 31,
    2 ** 32 + 1,
    Number.MAX_SAFE_INTEGER,
  ];

  it('are the version-5 UUIDs of their import id and line number', () => {
    for (const importId of importIds) {
      const ids = new ImportEventIds(importId);
      for (const line of lines)
        expect([importId, line, ids.of(line)]).toEqual([importId, line, reference(importId, line)]);
    }
  });

  it('stay the ids an interrupted import was given before, line after line', () => {
    const ids = new ImportEventIds('sha256:abc');
    for (let line = 1; line <= 2000; line++) expect(ids.of(line)).toBe(reference('sha256:abc', line));
    expect(importEventId('sha256:abc', 7)).toBe(reference('sha256:abc', 7));
  });

  it('refuse what is not a line number', () => {
    const ids = new ImportEventIds('a');
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => ids.of(bad)).toThrow(RangeError);
  });
});

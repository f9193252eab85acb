import { idHash, InternedIds } from './interned-ids';

/** Ids back to back in one text, with where each starts and the hashes they are filed under. */
function stored(ids: readonly string[]) {
  const starts = new Uint32Array(ids.length + 1);
  ids.forEach((id, i) => (starts[i + 1] = starts[i] + id.length));
  return { text: ids.join(''), starts, hashes: Int32Array.from(ids, idHash) };
}

describe('InternedIds', () => {
  it('gives each distinct id one key, in the order ids first come, across many regrowths of its index', () => {
    const ids = new InternedIds();
    const names = Array.from({ length: 50_000 }, (_unused, i) => `user-${i}`);
    names.forEach((name, i) => expect(ids.keyFor(name)).toBe(i));
    names.forEach((name, i) => {
      expect(ids.keyFor(name)).toBe(i);
      expect(ids.keyOf(name)).toBe(i);
      expect(ids.idOf(i)).toBe(name);
    });
    expect(ids.size).toBe(50_000);
    expect(ids.keyOf('user-50000')).toBe(-1);
    expect(ids.keyOf('')).toBe(-1);
  });

  it('files a snapshot’s ids under their stored hashes, then finds, names and extends them like its own', () => {
    const names = Array.from({ length: 10_000 }, (_unused, i) => `kamera-ü-${i}-📷`);
    const ids = new InternedIds();
    ids.reserve(names.length);
    const first = stored(names.slice(0, 4000));
    const rest = stored(names.slice(4000));
    expect(ids.fileStored(first.text, first.starts, first.hashes)).toBe(0);
    expect(ids.fileStored(rest.text, rest.starts, rest.hashes)).toBe(4000);
    expect(ids.peek(9999)).toBe(names[9999]);
    names.forEach((name, i) => expect(ids.keyOf(name)).toBe(i));
    names.forEach((name, i) => expect(ids.idOf(i)).toBe(name));
    expect(ids.keyFor('new')).toBe(10_000);
    expect(ids.keyOf('new')).toBe(10_000);
  });

  it('refuses a snapshot that lists an id twice', () => {
    const ids = new InternedIds();
    const twice = stored(['cam-1', 'cam-2', 'cam-1']);
    expect(() => ids.fileStored(twice.text, twice.starts, twice.hashes)).toThrow('cam-1 is listed twice');
  });
});

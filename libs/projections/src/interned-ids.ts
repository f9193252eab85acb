import type { UserKeys } from '@ledger/domain';

/** The hash {@link InternedIds} files ids under; snapshots name it, so a change of it discards them. */
export const ID_HASH = 'fnv1a32-utf16';

/** FNV-1a over the id's UTF-16 code units: the same on every host, so a snapshot can carry it. */
export function idHash(id: string): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash;
}

/**
 * A string table: each distinct id is kept once and stands for a small integer everywhere else, so the
 * projection holds numbers where it would otherwise hold one string (or one Map entry) per relationship.
 *
 * The index is an open-addressing hash table in a typed array, with each key's hash kept beside it, rather
 * than a Map: a snapshot carries the hashes, so a restart files millions of ids without hashing a string or
 * rehashing a Map's growing table (which cost seconds per million ids), and growing never reads a string.
 */
export class InternedIds implements UserKeys {
  /** By key; undefined for an id restored from a snapshot and not read since (see `fileStored`). */
  private readonly ids: Array<string | undefined> = [];
  /** Restored ids, per block of the snapshot: its first key, its text, each id's start in the text. */
  private readonly storedFirstKeys: number[] = [];
  private readonly storedTexts: string[] = [];
  private readonly storedStarts: Uint32Array[] = [];
  /** Per key: its id's hash. */
  private hashes = new Int32Array(1024);
  /** 1 + key, 0 for an empty slot; linear probing, at most half full. */
  private slots = new Int32Array(2048);

  get size(): number {
    return this.ids.length;
  }

  keyOf(id: string): number {
    const slot = this.slotOf(id, idHash(id));
    return this.slots[slot] - 1;
  }

  keyFor(id: string): number {
    return this.filed(id, idHash(id));
  }

  /** Files an id whose hash the caller already has (a snapshot's); returns its key. */
  filed(id: string, hash: number): number {
    const slot = this.slotOf(id, hash);
    const existing = this.slots[slot];
    if (existing !== 0) return existing - 1;
    const key = this.ids.push(id) - 1;
    if (key >= this.hashes.length) this.hashes = grown(this.hashes, key + 1);
    this.hashes[key] = hash;
    this.slots[slot] = key + 1;
    if (this.ids.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return key;
  }

  idOf(key: number): string {
    return this.ids[key] ?? this.storedId(key, true);
  }

  /** The id, without keeping a string of it: a snapshot reads every id and must not make one per id. */
  peek(key: number): string {
    return this.ids[key] ?? this.storedId(key, false);
  }

  /**
   * Files a run of ids from a snapshot under the hashes it carries: `text` holds them back to back, id i
   * from `starts[i]` to `starts[i + 1]`. An id is cut from the text when first read, so a restart makes no
   * string per id. Returns the first one's key; an id already filed is refused.
   */
  fileStored(text: string, starts: Uint32Array, hashes: ArrayLike<number>): number {
    const first = this.ids.length;
    const count = starts.length - 1;
    this.storedFirstKeys.push(first);
    this.storedTexts.push(text);
    this.storedStarts.push(starts);
    if (first + count > this.hashes.length) this.hashes = grown(this.hashes, first + count);
    for (let i = 0; i < count; i++) {
      const key = first + i;
      const hash = hashes[i];
      this.ids.push(undefined);
      this.hashes[key] = hash;
      const slots = this.slots;
      const mask = slots.length - 1;
      let slot = hash & mask;
      for (let entry = slots[slot]; entry !== 0; entry = slots[slot]) {
        if (this.hashes[entry - 1] === hash && this.idOf(entry - 1) === this.idOf(key)) {
          throw new Error(`${this.idOf(key)} is listed twice`);
        }
        slot = (slot + 1) & mask;
      }
      slots[slot] = key + 1;
      if (this.ids.length * 2 > slots.length) this.rehash(slots.length * 2);
    }
    return first;
  }

  /** Makes room for `count` ids in all, so filing a snapshot's ids never regrows the index. */
  reserve(count: number): void {
    if (count > this.hashes.length) this.hashes = grown(this.hashes, count);
    let capacity = this.slots.length;
    while (count * 2 > capacity) capacity *= 2;
    if (capacity > this.slots.length) this.rehash(capacity);
  }

  private storedId(key: number, keep: boolean): string {
    // The last block whose first key is at most `key`.
    const firstKeys = this.storedFirstKeys;
    let low = 0;
    let high = firstKeys.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (firstKeys[middle] <= key) low = middle;
      else high = middle - 1;
    }
    const starts = this.storedStarts[low];
    const index = key - firstKeys[low];
    const id = this.storedTexts[low].slice(starts[index], starts[index + 1]);
    if (keep) this.ids[key] = id;
    return id;
  }

  /** The hash `key`'s id is filed under, for a snapshot. */
  hashOf(key: number): number {
    return this.hashes[key];
  }

  /** The slot holding `id`, or the empty slot where it would go. */
  private slotOf(id: string, hash: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot];
      if (entry === 0) return slot;
      // The hash first: comparing strings would read one more scattered object per probe.
      if (this.hashes[entry - 1] === hash && this.idOf(entry - 1) === id) return slot;
    }
  }

  private rehash(capacity: number): void {
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let key = 0; key < this.ids.length; key++) {
      let slot = this.hashes[key] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = key + 1;
    }
    this.slots = slots;
  }
}

/**
 * For each user, the devices they ever had access to: singly linked lists threaded through two typed arrays,
 * eight bytes per relationship and four per user, instead of an array or a Set per user.
 */
export class UserDeviceLists {
  /** Per user: 1 + index of the latest link, 0 for none. */
  private head = new Int32Array(1024);
  private device = new Int32Array(1024);
  /** Per link: 1 + index of the previous link of the same user, 0 at the end. */
  private next = new Int32Array(1024);
  private links = 0;

  get size(): number {
    return this.links;
  }

  add(user: number, device: number): void {
    if (user >= this.head.length) this.head = grown(this.head, user + 1);
    if (this.links >= this.device.length) {
      this.device = grown(this.device, this.links + 1);
      this.next = grown(this.next, this.links + 1);
    }
    this.device[this.links] = device;
    this.next[this.links] = this.head[user];
    this.head[user] = ++this.links;
  }

  devicesOf(user: number): number[] {
    const result: number[] = [];
    if (user < 0 || user >= this.head.length) return result;
    for (let link = this.head[user]; link !== 0; link = this.next[link - 1])
      result.push(this.device[link - 1]);
    return result;
  }
}

function grown(array: Int32Array<ArrayBuffer>, atLeast: number): Int32Array<ArrayBuffer> {
  let length = array.length;
  while (length < atLeast) length *= 2;
  const next = new Int32Array(length);
  next.set(array);
  return next;
}

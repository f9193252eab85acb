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
  private readonly ids: string[] = [];
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
    return this.ids[key];
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
      if (this.hashes[entry - 1] === hash && this.ids[entry - 1] === id) return slot;
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

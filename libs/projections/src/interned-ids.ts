import type { UserKeys } from '@ledger/domain';

/**
 * A string table: each distinct id is kept once and stands for a small integer everywhere else, so the
 * projection holds numbers where it would otherwise hold one string (or one Map entry) per relationship.
 */
export class InternedIds implements UserKeys {
  private readonly keys = new Map<string, number>();
  private readonly ids: string[] = [];

  get size(): number {
    return this.ids.length;
  }

  keyOf(id: string): number {
    return this.keys.get(id) ?? -1;
  }

  keyFor(id: string): number {
    let key = this.keys.get(id);
    if (key === undefined) {
      key = this.ids.push(id) - 1;
      this.keys.set(id, key);
    }
    return key;
  }

  idOf(key: number): string {
    return this.ids[key];
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

/**
 * A Map that holds at most `capacity` entries and forgets the least recently written first. Writing a key
 * moves it to the end, so when every write carries the current time the Map is ordered by time and expired
 * entries can be dropped from the front: amortized O(1) per operation, and a flood of new keys costs at
 * most `capacity` entries of memory.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new Error("a BoundedMap needs room for at least one entry");
    this.capacity = capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops entries from the oldest write on while `stale` says so; stops at the first fresh one. */
  dropOldestWhile(stale: (value: V, key: K) => boolean): void {
    for (const [key, value] of this.entries) {
      if (!stale(value, key)) return;
      this.entries.delete(key);
    }
  }
}

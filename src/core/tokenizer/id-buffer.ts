const KEPT_CAPACITY = 1 << 20;

/** A growable Int32Array of ids. */
export class IdBuffer {
  private ids = new Int32Array(1024);
  length = 0;

  push(id: number): void {
    if (this.length === this.ids.length) this.grow(1);
    this.ids[this.length++] = id;
  }

  pushAll(ids: Int32Array): void {
    const n = ids.length;
    if (this.length + n > this.ids.length) this.grow(n);
    // Most pieces are a token or two: a loop beats set() there.
    if (n > 8) this.ids.set(ids, this.length);
    else for (let i = 0; i < n; i++) this.ids[this.length + i] = ids[i];
    this.length += n;
  }

  /** The array to write up to `more` ids into, from index `length` (then add to length). */
  reserve(more: number): Int32Array {
    if (this.length + more > this.ids.length) this.grow(more);
    return this.ids;
  }

  /** A copy of the ids, and an empty buffer (a small one again after a large text). */
  take(): Int32Array {
    const out = this.ids.slice(0, this.length);
    this.length = 0;
    if (this.ids.length > KEPT_CAPACITY) this.ids = new Int32Array(1024);
    return out;
  }

  private grow(more: number): void {
    const larger = new Int32Array(Math.max(2 * this.ids.length, this.length + more));
    larger.set(this.ids.subarray(0, this.length));
    this.ids = larger;
  }
}

import { IdBuffer } from './id-buffer';

/**
 * The ids of text pieces already merged, looked up by the piece's place in a text, without making
 * a string of it: open addressing on a hash of its UTF-16 units, the units and ids of every piece
 * in two flat arrays. Memory is fixed (about 30 MB); when full it empties and fills again.
 */
export class PieceCache {
  private readonly hashes: Int32Array;
  private readonly keyStart: Int32Array;
  private readonly keyLength: Int32Array;
  private readonly idStart: Int32Array;
  private readonly idLength: Int32Array;
  private readonly units: Uint16Array;
  private readonly ids: Int32Array;
  private readonly mask: number;
  /** At most this many pieces (half the slots, so probes stay short); then the cache starts afresh. */
  private readonly maxPieces: number;
  private pieces = 0;
  private unitsUsed = 0;
  private idsUsed = 0;

  /** `slots`: a power of two. */
  constructor(slots = 1 << 19, maxUnits = 1 << 22, maxIds = 1 << 21) {
    this.hashes = new Int32Array(slots);
    this.keyStart = new Int32Array(slots);
    this.keyLength = new Int32Array(slots);
    this.idStart = new Int32Array(slots);
    this.idLength = new Int32Array(slots);
    this.units = new Uint16Array(maxUnits);
    this.ids = new Int32Array(maxIds);
    this.mask = slots - 1;
    this.maxPieces = slots >> 1;
  }

  /** The slot of text[start, end), found or empty (hashes[slot] === 0). */
  private slotOf(text: string, start: number, end: number, hash: number): number {
    const length = end - start;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const h = this.hashes[slot];
      if (h === 0) return slot;
      if (h !== hash || this.keyLength[slot] !== length) continue;
      const at = this.keyStart[slot] - start;
      let i = start;
      while (i < end && this.units[at + i] === text.charCodeAt(i)) i++;
      if (i === end) return slot;
    }
  }

  /** Appends the ids of text[start, end) to `out` and returns true, if they are cached. */
  copyTo(text: string, start: number, end: number, hash: number, out: IdBuffer): boolean {
    const slot = this.slotOf(text, start, end, hash);
    if (this.hashes[slot] === 0) return false;
    const from = this.idStart[slot];
    const n = this.idLength[slot];
    const to = out.reserve(n);
    const at = out.length;
    for (let i = 0; i < n; i++) to[at + i] = this.ids[from + i];
    out.length = at + n;
    return true;
  }

  set(text: string, start: number, end: number, hash: number, ids: Int32Array): void {
    const length = end - start;
    const full = this.unitsUsed + length > this.units.length || this.idsUsed + ids.length > this.ids.length;
    if (full || this.pieces >= this.maxPieces) this.clear();
    const slot = this.slotOf(text, start, end, hash);
    if (this.hashes[slot] !== 0) return;
    this.hashes[slot] = hash;
    this.keyStart[slot] = this.unitsUsed;
    this.keyLength[slot] = length;
    for (let i = 0; i < length; i++) this.units[this.unitsUsed + i] = text.charCodeAt(start + i);
    this.unitsUsed += length;
    this.idStart[slot] = this.idsUsed;
    this.idLength[slot] = ids.length;
    this.ids.set(ids, this.idsUsed);
    this.idsUsed += ids.length;
    this.pieces++;
  }

  private clear(): void {
    this.hashes.fill(0);
    this.pieces = this.unitsUsed = this.idsUsed = 0;
  }
}

/** FNV-1a over the UTF-16 units of text[start, end), never 0 (0 marks an empty slot). */
export function pieceHash(text: string, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h | 1;
}

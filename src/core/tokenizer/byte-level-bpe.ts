import { BYTE_TO_CHAR } from './bytes-to-unicode';
import { IdBuffer } from './id-buffer';
import { PieceCache, pieceHash } from './piece-cache';

/** Pieces longer than this are merged with a heap; shorter ones by a scan, which is faster there. */
const SCAN_MAX = 48;
/** Longer pieces are not remembered: they rarely repeat. */
const CACHE_MAX_CHARS = 64;

/**
 * A byte-level BPE model applied as the Rust library does (word.merge_all): the adjacent pair of
 * lowest merge rank is merged first, the leftmost of equal ranks, until no pair has a merge. Ids
 * are typed arrays throughout; each distinct piece is merged once and then found in a cache.
 */
export class ByteLevelBpe {
  private readonly byteIds = new Int32Array(256);
  /** pair (a * vocabSize + b) → rank * 2^21 + merged id; the smallest value is the first merge. */
  private readonly merges = new Map<number, number>();
  /** Most words of a corpus repeat: each distinct piece is merged once (Rust caches too). */
  private readonly cache = new PieceCache();
  private symbols = new Int32Array(256);
  private bytes = new Uint8Array(1024);

  /** Undefined when the model is one this class does not run exactly (the library runs it then). */
  static create(vocab: Record<string, number>, merges: unknown[], ignoreMerges: boolean): ByteLevelBpe | undefined {
    const bpe = new ByteLevelBpe(Object.keys(vocab).length, ignoreMerges ? vocab : undefined);
    for (let b = 0; b < 256; b++) {
      const id = vocab[BYTE_TO_CHAR[b]];
      if (id === undefined) return undefined;
      bpe.byteIds[b] = id;
    }
    for (let rank = 0; rank < merges.length; rank++) {
      const m = merges[rank];
      const [left, right] = typeof m === 'string' ? m.split(' ') : (m as [string, string]);
      const a = vocab[left];
      const b = vocab[right];
      const merged = vocab[left + right];
      if (a === undefined || b === undefined || merged === undefined) return undefined;
      // A pair listed twice keeps its last rank, as a Rust HashMap collected from the list does.
      bpe.merges.set(a * bpe.vocabSize + b, rank * 0x200000 + merged);
    }
    return bpe;
  }

  private constructor(
    private readonly vocabSize: number,
    /** ignore_merges: a piece that is a token is that token, whatever the merges would make of it. */
    private readonly wholeTokens: Record<string, number> | undefined,
  ) {}

  /** Appends the ids of text[start, end) (one pre-token) to out. */
  encodePiece(text: string, start: number, end: number, out: IdBuffer): void {
    const short = end - start <= CACHE_MAX_CHARS;
    const hash = short ? pieceHash(text, start, end) : 0;
    if (short && this.cache.copyTo(text, start, end, hash, out)) return;
    const ids = this.merge(text, start, end);
    if (short) this.cache.set(text, start, end, hash, ids);
    out.pushAll(ids);
  }

  private merge(text: string, start: number, end: number): Int32Array {
    const n = this.utf8(text, start, end);
    if (this.wholeTokens) {
      let spelled = '';
      for (let i = 0; i < n; i++) spelled += BYTE_TO_CHAR[this.bytes[i]];
      const id = this.wholeTokens[spelled];
      if (id !== undefined) return Int32Array.of(id);
    }
    if (this.symbols.length < n) this.symbols = new Int32Array(2 * n);
    const s = this.symbols;
    for (let i = 0; i < n; i++) s[i] = this.byteIds[this.bytes[i]];
    return n <= SCAN_MAX ? this.mergeByScan(n) : this.mergeByHeap(n);
  }

  private mergeByScan(length: number): Int32Array {
    const s = this.symbols;
    const v = this.vocabSize;
    let n = length;
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        const m = this.merges.get(s[i] * v + s[i + 1]);
        if (m !== undefined && m < best) {
          best = m;
          at = i;
        }
      }
      if (at < 0) break;
      s[at] = best % 0x200000;
      s.copyWithin(at + 1, at + 2, n);
      n--;
    }
    return s.slice(0, n);
  }

  /** The same order of merges for a long piece: a heap of (rank, position) over a linked list. */
  private mergeByHeap(n: number): Int32Array {
    const s = this.symbols;
    const v = this.vocabSize;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MergeHeap();
    const pushPair = (i: number) => {
      const j = next[i];
      if (j < 0) return;
      const m = this.merges.get(s[i] * v + s[j]);
      if (m !== undefined) heap.push(m, i);
    };
    for (let i = 0; i + 1 < n; i++) pushPair(i);
    for (let top = heap.pop(); top; top = heap.pop()) {
      const [m, i] = top;
      const j = next[i];
      // A stale entry: its left symbol was merged away, or the pair is no longer this one.
      if (!alive[i] || j < 0 || this.merges.get(s[i] * v + s[j]) !== m) continue;
      s[i] = m % 0x200000;
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) pushPair(prev[i]);
      pushPair(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(s[i]);
    return Int32Array.from(out);
  }

  /** The UTF-8 bytes of text[start, end) into this.bytes (a lone surrogate as U+FFFD); their count. */
  private utf8(text: string, start: number, end: number): number {
    if (this.bytes.length < 3 * (end - start)) this.bytes = new Uint8Array(6 * (end - start));
    const out = this.bytes;
    let n = 0;
    for (let i = start; i < end; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdfff) {
        const low = i + 1 < end ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          i++;
        } else c = 0xfffd;
      }
      if (c < 0x80) out[n++] = c;
      else if (c < 0x800) {
        out[n++] = 0xc0 | (c >> 6);
        out[n++] = 0x80 | (c & 63);
      } else if (c < 0x10000) {
        out[n++] = 0xe0 | (c >> 12);
        out[n++] = 0x80 | ((c >> 6) & 63);
        out[n++] = 0x80 | (c & 63);
      } else {
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 63);
        out[n++] = 0x80 | ((c >> 6) & 63);
        out[n++] = 0x80 | (c & 63);
      }
    }
    return n;
  }
}

/** A binary min-heap of (merge value, position): the lowest rank first, then the leftmost. */
class MergeHeap {
  private readonly values: number[] = [];
  private readonly positions: number[] = [];

  push(value: number, position: number): void {
    const v = this.values;
    const p = this.positions;
    let i = v.length;
    v.push(value);
    p.push(position);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, number] | undefined {
    const v = this.values;
    const p = this.positions;
    if (v.length === 0) return undefined;
    const top: [number, number] = [v[0], p[0]];
    const lastValue = v.pop()!;
    const lastPosition = p.pop()!;
    if (v.length > 0) {
      v[0] = lastValue;
      p[0] = lastPosition;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < v.length && this.less(l, m)) m = l;
        if (r < v.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  /** Equal values are the same merge (one rank, one pair). */
  private less(i: number, j: number): boolean {
    const a = this.values[i];
    const b = this.values[j];
    return a < b || (a === b && this.positions[i] < this.positions[j]);
  }

  private swap(i: number, j: number): void {
    [this.values[i], this.values[j]] = [this.values[j], this.values[i]];
    [this.positions[i], this.positions[j]] = [this.positions[j], this.positions[i]];
  }
}

import { BYTE_TO_CHAR } from './bytes-to-unicode';
import { PreTokenCounter } from './pre-token-counts';

// No npm package trains a Hugging Face-compatible BPE in JavaScript (see docs/tfjs-notes.md), so this is
// the classic algorithm: count pre-tokenized words, repeatedly merge the most frequent adjacent
// pair (ties: the pair of smaller ids, like the Rust BpeTrainer), updating counts incrementally.

export interface BpeModel {
  /** Token strings in id order: the 256 byte symbols, then one per merge. */
  tokens: string[];
  merges: [string, string][];
}

interface Word {
  symbols: number[];
  count: number;
}

const pairKey = (a: number, b: number) => a * 0x200000 + b;

/** A binary max-heap of [count, key] with lazy deletion (stale entries are skipped on pop). */
class PairHeap {
  private items: [number, number][] = [];
  push(count: number, key: number): void {
    const h = this.items;
    h.push([count, key]);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): [number, number] | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
  private before(a: [number, number], b: [number, number]): boolean {
    return a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]);
  }
}

/** Learns merges from a whole text (see trainByteLevelBpeFromCounts). */
export function trainByteLevelBpe(text: string, vocabSize: number): BpeModel {
  const counter = new PreTokenCounter();
  counter.push(text);
  return trainByteLevelBpeFromCounts(counter.end(), vocabSize);
}

const utf8 = new TextEncoder();

/**
 * Learns merges from the counts of a text's pre-tokens (PreTokenCounter) until the vocabulary holds
 * `vocabSize` tokens, or until no pair is left to merge.
 */
export function trainByteLevelBpeFromCounts(wordCounts: ReadonlyMap<string, number>, vocabSize: number): BpeModel {
  // While learning, the bytes have the Rust trainer's ids (its alphabet sorted by code point): ties
  // between equally frequent pairs go to the pair of smaller ids, so the ids decide which is merged.
  const tokens = [...BYTE_TO_CHAR].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const idOfByte = BYTE_TO_CHAR.map((c) => idOf.get(c)!);
  const merges: [string, string][] = [];
  const words: Word[] = [];
  for (const [piece, count] of wordCounts) {
    const symbols = Array.from(utf8.encode(piece), (b) => idOfByte[b]);
    if (symbols.length > 1) words.push({ symbols, count });
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const add = (a: number, b: number, w: number, n: number) => {
    const k = pairKey(a, b);
    pairCounts.set(k, (pairCounts.get(k) ?? 0) + n);
    if (n > 0) {
      let s = pairWords.get(k);
      if (!s) pairWords.set(k, (s = new Set()));
      s.add(w);
    }
  };
  words.forEach((word, w) => {
    for (let i = 0; i + 1 < word.symbols.length; i++) add(word.symbols[i], word.symbols[i + 1], w, word.count);
  });
  const heap = new PairHeap();
  for (const [k, c] of pairCounts) heap.push(c, k);

  while (tokens.length < vocabSize) {
    const top = heap.pop();
    if (!top) break;
    const [count, key] = top;
    if (pairCounts.get(key) !== count || count <= 0) continue; // stale entry
    const a = Math.floor(key / 0x200000);
    const b = key % 0x200000;
    // Different merge orders can spell the same string: reuse its id, as the Rust trainer does.
    const merged = tokens[a] + tokens[b];
    let id = idOf.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      idOf.set(merged, id);
    }
    merges.push([tokens[a], tokens[b]]);
    const touched = new Set<number>();
    for (const w of pairWords.get(key) ?? []) {
      const word = words[w];
      const s = word.symbols;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] !== a || s[i + 1] !== b) continue;
        if (i > 0) {
          add(s[i - 1], a, w, -word.count);
          add(s[i - 1], id, w, word.count);
          touched.add(pairKey(s[i - 1], id)).add(pairKey(s[i - 1], a));
        }
        if (i + 2 < s.length) {
          add(b, s[i + 2], w, -word.count);
          add(id, s[i + 2], w, word.count);
          touched.add(pairKey(id, s[i + 2])).add(pairKey(b, s[i + 2]));
        }
        s.splice(i, 2, id);
      }
    }
    pairCounts.delete(key);
    pairWords.delete(key);
    for (const k of touched) {
      const c = pairCounts.get(k);
      if (c !== undefined && c > 0) heap.push(c, k);
    }
  }
  // Corpus Lab's vocabulary lists the bytes in byte order (the merges are the same either way).
  return { tokens: [...BYTE_TO_CHAR, ...tokens.slice(256)], merges };
}

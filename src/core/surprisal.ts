import { Tokenizer } from './tokenizer';

// Surprisal of a document (GLTR, Gehrmann et al. 2019): each token coloured by the rank of the
// actual token among the model's predictions, or by its bits per character.

/** Rank buckets: top 10, top 100, top 1000, beyond. */
export const RANK_LIMITS = [10, 100, 1000];
/** Bits-per-character buckets: below 1, 1–2, 2–4, 4–8, 8 and more. */
export const BITS_LIMITS = [1, 2, 4, 8];

/** 0 = top 10, 1 = top 100, 2 = top 1000, 3 = beyond. */
export function rankBucket(rank: number): number {
  const i = RANK_LIMITS.findIndex((l) => rank <= l);
  return i < 0 ? RANK_LIMITS.length : i;
}

/** 0 = below 1 bit per character, … 4 = 8 or more. */
export function bitsBucket(bitsPerChar: number): number {
  const i = BITS_LIMITS.findIndex((l) => bitsPerChar < l);
  return i < 0 ? BITS_LIMITS.length : i;
}

export interface ScoredToken {
  /** UTF-16 offsets of the token's text in the document (a byte piece: the character it belongs to). */
  start: number;
  end: number;
  id: number;
  /** 1 = the model's first choice. */
  rank: number;
  /** -log2 p(token | what came before). */
  bits: number;
  /** Characters the token completes (0 for a piece that does not end a character). */
  chars: number;
}

export interface SurprisalSummary {
  tokens: number;
  chars: number;
  bitsPerChar: number;
  /** Tokens per rank bucket (RANK_LIMITS), and per bits-per-character bucket (BITS_LIMITS). */
  rankHistogram: number[];
  bitsHistogram: number[];
}

/** Where each token's text lies in `text`, as UTF-16 offsets, and how many characters it spells. */
export function tokenSpans(tokenizer: Tokenizer, ids: number[], text: string): { start: number; end: number; chars: number }[] {
  if (tokenizer.kind === 'char') {
    // One token per code point (an unknown character is <unk>, whose text is not the character's).
    const spans = [];
    let at = 0;
    for (const c of text) {
      spans.push({ start: at, end: at + c.length, chars: 1 });
      at += c.length;
    }
    return spans.slice(0, ids.length);
  }
  // Byte-level tokens: walk the UTF-8 bytes and the UTF-16 offsets together.
  const byteToUtf16: number[] = [];
  let u = 0;
  for (const c of text) {
    const n = new TextEncoder().encode(c).length;
    for (let k = 0; k < n; k++) byteToUtf16.push(u);
    u += c.length;
  }
  byteToUtf16.push(u);
  const at = (byte: number) => byteToUtf16[Math.min(byte, byteToUtf16.length - 1)];
  let byte = 0;
  return ids.map((id) => {
    const bytes = tokenizer.tokenBytes(id);
    const startByte = byte;
    byte += bytes.length;
    let chars = 0;
    for (const b of bytes) if ((b & 0xc0) !== 0x80) chars++;
    const start = at(startByte);
    // A piece inside a character ends where that character ends.
    let end = at(byte);
    if (end <= start) end = Math.min(text.length, start + (text.codePointAt(start)! > 0xffff ? 2 : 1));
    return { start, end, chars };
  });
}

export function summarise(scored: ScoredToken[]): SurprisalSummary {
  const rankHistogram = new Array(RANK_LIMITS.length + 1).fill(0);
  const bitsHistogram = new Array(BITS_LIMITS.length + 1).fill(0);
  let bits = 0;
  let chars = 0;
  for (const t of scored) {
    rankHistogram[rankBucket(t.rank)]++;
    bitsHistogram[bitsBucket(tokenBitsPerChar(t))]++;
    bits += t.bits;
    chars += t.chars;
  }
  return { tokens: scored.length, chars, bitsPerChar: chars ? bits / chars : 0, rankHistogram, bitsHistogram };
}

/** A token's bits per character; a piece that ends no character carries its bits over as if one. */
export function tokenBitsPerChar(t: ScoredToken): number {
  return t.bits / Math.max(1, t.chars);
}

/**
 * The longest stretch of `text` that appears verbatim in `corpus` ("is it just copying my text?"),
 * as UTF-16 offsets into `text`. Grows the best length one character at a time, so it makes about
 * text.length + best searches of the corpus.
 */
export function longestSharedSpan(text: string, corpus: string): { start: number; end: number } {
  let best = { start: 0, end: 0 };
  for (let i = 0; i + (best.end - best.start) < text.length; i++) {
    let len = best.end - best.start + 1;
    while (i + len <= text.length && corpus.includes(text.slice(i, i + len))) {
      best = { start: i, end: i + len };
      len++;
    }
  }
  return best;
}

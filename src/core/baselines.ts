import { gzipSync } from 'node:zlib';
import { Tokenizer } from './tokenizer';
import type { Baselines } from './metric-row';

export type { Baselines };

export type TextSize = { chars: number; bytes: number };

/** Code points and UTF-8 bytes that tokens spell; a character split over tokens counts where its first byte is. */
export function textSize(tokenizer: Tokenizer, ids: ArrayLike<number>): TextSize {
  let chars = 0;
  let bytes = 0;
  for (let i = 0; i < ids.length; i++) {
    const b = tokenizer.tokenBytes(ids[i]);
    for (const x of b) if ((x & 0xc0) !== 0x80) chars++;
    bytes += b.length;
  }
  return { chars, bytes };
}

/**
 * The UTF-8 bytes tokens spell, concatenated (pieces of one character join up). Each id's bytes are
 * looked up once: keeping a piece per token of a 1 MB corpus cost ~300 MB of heap.
 */
export function tokenTextBytes(tokenizer: Tokenizer, ids: ArrayLike<number>): Uint8Array {
  const pieces = new Map<number, Uint8Array>();
  const piece = (id: number) => {
    let b = pieces.get(id);
    if (!b) pieces.set(id, (b = tokenizer.tokenBytes(id)));
    return b;
  };
  let length = 0;
  for (let i = 0; i < ids.length; i++) length += piece(ids[i]).length;
  const out = new Uint8Array(length);
  let at = 0;
  for (let i = 0; i < ids.length; i++) {
    const b = piece(ids[i]);
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Bits per character of `text` under the character frequencies of `fitText`, add-one smoothed over both texts' characters. */
export function unigramBitsPerChar(fitText: string, text: string): number {
  const counts = new Map<string, number>();
  let total = 0;
  for (const c of fitText) {
    counts.set(c, (counts.get(c) ?? 0) + 1);
    total++;
  }
  const alphabet = new Set(counts.keys());
  for (const c of text) alphabet.add(c);
  const denominator = total + alphabet.size;
  let bits = 0;
  let n = 0;
  for (const c of text) {
    bits -= Math.log2(((counts.get(c) ?? 0) + 1) / denominator);
    n++;
  }
  return n ? bits / n : 0;
}

export function gzipBitsPerByte(bytes: Uint8Array): number {
  return bytes.length ? (gzipSync(bytes, { level: 9 }).length * 8) / bytes.length : 0;
}

/** Nats per token → bits per character and per byte, for `tokens` tokens that spell `size`. */
export function bitsPer(lossNats: number, tokens: number, size: TextSize): { bitsPerChar: number; bitsPerByte: number } {
  const bits = (lossNats * tokens) / Math.LN2;
  return { bitsPerChar: bits / size.chars, bitsPerByte: bits / size.bytes };
}

/** The baselines of `scored` (predicted tokens of held-out text), fitting the unigram model on `fit` tokens. */
export function computeBaselines(tokenizer: Tokenizer, fit: ArrayLike<number>, scored: ArrayLike<number>, initValLoss?: number): Baselines {
  const decoder = new TextDecoder();
  const scoredBytes = tokenTextBytes(tokenizer, scored);
  const size = textSize(tokenizer, scored);
  const baselines: Baselines = {
    uniform_loss: Math.log(tokenizer.vocabSize),
    unigram_bits_per_char: unigramBitsPerChar(decoder.decode(tokenTextBytes(tokenizer, fit)), decoder.decode(scoredBytes)),
    gzip_bits_per_byte: gzipBitsPerByte(scoredBytes),
    val_tokens: scored.length,
    val_chars: size.chars,
    val_bytes: size.bytes,
  };
  if (initValLoss !== undefined) baselines.init_val_loss = initValLoss;
  return baselines;
}

import { isUtf8 } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import { TokenReader, idCounts, memoryTokens, tokenChunks } from './prepared/token-file';
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

/** How often each character occurs in a text. */
export type CharCounts = Map<string, number>;

export function countChars(text: string, counts: CharCounts = new Map()): CharCounts {
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  return counts;
}

/** Bits per character of `text` under the character frequencies of `fit` (a text or its counts), add-one smoothed over both texts' characters. */
export function unigramBitsPerChar(fit: string | CharCounts, text: string): number {
  const counts = typeof fit === 'string' ? countChars(fit) : fit;
  let total = 0;
  for (const n of counts.values()) total += n;
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

/**
 * The characters that the ids spell, counted a chunk at a time (the ids may be a whole corpus on
 * disk). When every id spells whole characters (a char tokenizer; most BPE vocabularies of one
 * script) the ids are counted and each id's characters weighted by its count, which is far
 * faster than decoding; else the text is decoded as it streams.
 */
export function tokenCharCounts(tokenizer: Tokenizer, ids: ArrayLike<number> | TokenReader): CharCounts {
  const reader = isTokenReader(ids) ? ids : memoryTokens(Int32Array.from(ids));
  const perId = idCounts(reader, tokenizer.vocabSize);
  const counts: CharCounts = new Map();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for (let id = 0; id < perId.length; id++) {
    if (perId[id] === 0) continue;
    const bytes = tokenizer.tokenBytes(id);
    if (!isUtf8(bytes)) return streamedCharCounts(tokenizer, reader);
    for (const c of decoder.decode(bytes)) counts.set(c, (counts.get(c) ?? 0) + perId[id]);
  }
  // A whole decode drops a byte-order mark at the very start (TextDecoder's default).
  if (reader.length > 0 && decoder.decode(tokenizer.tokenBytes(reader.view(0, 1)[0])).startsWith('\uFEFF')) dropOneMark(counts);
  return counts;
}

function dropOneMark(counts: CharCounts): void {
  const left = counts.get('\uFEFF')! - 1;
  if (left > 0) counts.set('\uFEFF', left);
  else counts.delete('\uFEFF');
}

function streamedCharCounts(tokenizer: Tokenizer, reader: TokenReader): CharCounts {
  const known = reader.charCounts?.();
  if (known) {
    // As the stream's decoder below, which drops a byte-order mark at the very start.
    const head = new TextDecoder('utf-8', { ignoreBOM: true }).decode(
      tokenTextBytes(tokenizer, reader.view(0, Math.min(3, reader.length))),
    );
    if (head.startsWith('\uFEFF')) dropOneMark(known);
    return known;
  }
  const decoder = new TextDecoder();
  const counts: CharCounts = new Map();
  for (const chunk of tokenChunks(reader)) countChars(decoder.decode(tokenTextBytes(tokenizer, chunk), { stream: true }), counts);
  return countChars(decoder.decode(), counts);
}

function isTokenReader(x: ArrayLike<number> | TokenReader): x is TokenReader {
  return typeof (x as TokenReader).view === 'function';
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
export function computeBaselines(
  tokenizer: Tokenizer,
  fit: ArrayLike<number> | TokenReader,
  scored: ArrayLike<number>,
  initValLoss?: number,
): Baselines {
  const decoder = new TextDecoder();
  const scoredBytes = tokenTextBytes(tokenizer, scored);
  const size = textSize(tokenizer, scored);
  const baselines: Baselines = {
    uniform_loss: Math.log(tokenizer.vocabSize),
    unigram_bits_per_char: unigramBitsPerChar(tokenCharCounts(tokenizer, fit), decoder.decode(scoredBytes)),
    gzip_bits_per_byte: gzipBitsPerByte(scoredBytes),
    val_tokens: scored.length,
    val_chars: size.chars,
    val_bytes: size.bytes,
  };
  if (initValLoss !== undefined) baselines.init_val_loss = initValLoss;
  return baselines;
}

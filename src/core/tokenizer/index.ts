import { UserError } from '../errors';
import { trainByteLevelBpeFromCounts } from './bpe-trainer';
import { PreTokenCounter } from './pre-token-counts';
import { bpeTokenizerJson, charTokenizerJson } from './tokenizer-json';
import { Tokenizer, TokenizerKind } from './tokenizer';

export { Tokenizer, decodeStream } from './tokenizer';
export type { TokenizerKind } from './tokenizer';
export { Utf8StreamDecoder } from './utf8-stream';
export type { StreamEncoder } from './stream-encoder';
export { PreTokenCounter } from './pre-token-counts';

export const MIN_BPE_VOCAB = 257;
export const MAX_BPE_VOCAB = 65536;

/** Default BPE vocabulary: a 256th of the corpus bytes, as a power of two from 512 to 4096. */
export function defaultBpeVocabSize(textBytes: number): number {
  const p = 2 ** Math.round(Math.log2(Math.max(1, textBytes / 256)));
  return Math.min(4096, Math.max(512, p));
}

export function trainTokenizer(text: string, opts: { kind: TokenizerKind; vocabSize?: number }): Tokenizer {
  if (opts.kind === 'char') {
    if (opts.vocabSize !== undefined)
      throw new UserError('--vocab-size applies to the bpe tokenizer only (char uses every character of the corpus)');
    const chars = [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return Tokenizer.fromJSON(JSON.stringify(charTokenizerJson(chars)));
  }
  if (opts.kind !== 'bpe') throw new UserError('unknown tokenizer kind "{0}": choose char or bpe', String(opts.kind));
  const counter = new PreTokenCounter();
  counter.push(text);
  return trainBpeFromCounts(counter, opts.vocabSize);
}

/**
 * A byte-level BPE learned from a corpus streamed through `counter` (push each piece of its text,
 * then call this): memory follows the distinct words kept, not the corpus. The merges are those
 * of Hugging Face's BpeTrainer on the whole text, unless the counter had to drop rare words.
 */
export function trainBpeFromCounts(counter: PreTokenCounter, vocabSize?: number): Tokenizer {
  const size = vocabSize ?? defaultBpeVocabSize(counter.bytes);
  if (!Number.isInteger(size) || size < MIN_BPE_VOCAB || size > MAX_BPE_VOCAB) {
    throw new UserError(
      'vocab size must be a whole number from {0} (256 bytes + <|endoftext|>) to {1} (got {2})',
      MIN_BPE_VOCAB,
      MAX_BPE_VOCAB,
      size,
    );
  }
  return Tokenizer.fromJSON(JSON.stringify(bpeTokenizerJson(trainByteLevelBpeFromCounts(counter.end(), size - 1))));
}

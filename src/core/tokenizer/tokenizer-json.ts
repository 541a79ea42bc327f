import { BpeModel } from './bpe-trainer';

export const UNK = '<unk>';
export const END_OF_TEXT = '<|endoftext|>';

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * Character-level tokenizer.json: a BPE model with no merges (so every character is a token, and
 * an unseen one is <unk>), lines split off first to keep pieces short, and a decoder that joins.
 */
export function charTokenizerJson(chars: string[]): object {
  const vocab: Record<string, number> = { [UNK]: 0 };
  chars.forEach((c, i) => (vocab[c] = i + 1));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { String: '\n' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** Byte-level BPE tokenizer.json (GPT-2 style); <|endoftext|> is in the vocab and in added_tokens. */
export function bpeTokenizerJson(model: BpeModel): object {
  const vocab: Record<string, number> = {};
  model.tokens.forEach((t, i) => (vocab[t] = i));
  const eot = model.tokens.length;
  vocab[END_OF_TEXT] = eot;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(eot, END_OF_TEXT)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: model.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

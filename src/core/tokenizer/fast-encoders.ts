import { isObject } from '../json';
import { AddedTokenSplitter } from './added-tokens';
import { ByteLevelBpe } from './byte-level-bpe';
import { IdBuffer } from './id-buffer';
import { forEachPreToken } from './pre-token-scanner';
import { PreTokens, knownSplitPreTokens } from './split-pre-tokenizer';
import { utf8CodePoints } from './utf8-code-points';

/** Encodes as the Rust library would, for the tokenizer.json shapes it was made for. */
export interface FastEncoder {
  encode(text: string): Int32Array;
  /** An encoder of UTF-8 bytes, when every character is encoded on its own (see Utf8CharEncoder). */
  utf8Encoder?(): Utf8CharEncoder | undefined;
}

const unset = (v: unknown) => v === undefined || v === null || v === '';

/** GPT-2's pre-tokenizer (ByteLevel with its regex), as a scan. */
const gpt2PreTokens: PreTokens = (text, start, end, piece) => forEachPreToken(text, start, end, (a, b) => piece(text, a, b));

/**
 * An encoder that gives the Rust library's ids without the JS library's per-token objects, for
 * Corpus Lab's own kinds (GPT-2-style byte-level BPE, the char tokenizer) and for byte-level BPE
 * split by a known pattern (Llama 3's, Qwen2's; see knownSplitPreTokens) with no normalizer or an
 * NFC one. Undefined for any other shape (the library encodes those). `sliceable`: no normalizer, added
 * tokens that are matched as plain text (see slicesEncodeExactly).
 */
export function fastEncoder(raw: Record<string, unknown>, kind: string, sliceable: boolean): FastEncoder | undefined {
  const { model, pre_tokenizer: pre, normalizer } = raw;
  if (!isObject(model) || !isObject(pre) || !isObject(model.vocab) || model.fuse_unk === true) return undefined;
  const vocab = model.vocab as Record<string, number>;
  const merges = Array.isArray(model.merges) ? (model.merges as unknown[]) : [];
  if (kind === 'char') {
    const splitter = sliceable ? AddedTokenSplitter.create(raw.added_tokens) : undefined;
    const unk = typeof model.unk_token === 'string' ? vocab[model.unk_token] : undefined;
    return splitter && merges.length === 0 && unk !== undefined ? new CharEncoder(vocab, unk, splitter) : undefined;
  }
  const plainBpe = (model.dropout ?? 0) === 0 && unset(model.continuing_subword_prefix) && unset(model.end_of_word_suffix);
  if (kind !== 'bpe' || !plainBpe) return undefined;
  const nfc = isObject(normalizer) && normalizer.type === 'NFC';
  if (!(nfc || (normalizer ?? null) === null)) return undefined;
  const preTokens = sliceable && pre.add_prefix_space !== true ? gpt2PreTokens : knownSplitPreTokens(pre);
  const splitter = preTokens && AddedTokenSplitter.create(raw.added_tokens, nfc ? (text) => text.normalize('NFC') : undefined);
  const bpe = splitter && ByteLevelBpe.create(vocab, merges, model.ignore_merges === true);
  return bpe && new ByteLevelEncoder(bpe, splitter!, preTokens!);
}

class ByteLevelEncoder implements FastEncoder {
  private readonly out = new IdBuffer();
  private readonly piece = (s: string, start: number, end: number) => this.bpe.encodePiece(s, start, end, this.out);
  constructor(
    private readonly bpe: ByteLevelBpe,
    private readonly splitter: AddedTokenSplitter,
    private readonly preTokens: PreTokens,
  ) {}

  encode(text: string): Int32Array {
    const out = this.out;
    this.splitter.split(
      text,
      (s, start, end) => this.preTokens(s, start, end, this.piece),
      (id) => out.push(id),
    );
    return out.take();
  }
}

/** Every character its own token (no merges), or <unk>. */
class CharEncoder implements FastEncoder {
  private readonly bmp = new Int32Array(0x10000).fill(-1);
  private readonly astral = new Map<number, number>();
  private readonly out = new IdBuffer();

  constructor(
    vocab: Record<string, number>,
    private readonly unk: number,
    private readonly splitter: AddedTokenSplitter,
  ) {
    for (const [token, id] of Object.entries(vocab)) {
      const cp = token.codePointAt(0)!;
      if (token.length === 1) this.bmp[cp] = id;
      else if (token.length === 2 && cp > 0xffff) this.astral.set(cp, id);
    }
  }

  utf8Encoder(): Utf8CharEncoder | undefined {
    return this.splitter.empty ? new Utf8CharEncoder(this.bmp, this.astral, this.unk) : undefined;
  }

  encode(text: string): Int32Array {
    const out = this.out;
    this.splitter.split(
      text,
      (s, start, end) => this.chars(s, start, end),
      (id) => out.push(id),
    );
    return out.take();
  }

  private chars(text: string, start: number, end: number): void {
    const ids = this.out.reserve(end - start);
    const bmp = this.bmp;
    let n = this.out.length;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          ids[n++] = this.astral.get(((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000) ?? this.unk;
          i++;
          continue;
        }
      }
      const id = bmp[c];
      ids[n++] = id >= 0 ? id : this.unk;
    }
    this.out.length = n;
  }
}

/**
 * The char tokenizer's ids straight from UTF-8 bytes (whole characters, already checked: a prepared
 * corpus's chunks), without making a string: the ids CharEncoder gives for the decoded text.
 */
export class Utf8CharEncoder {
  private ids = new Int32Array(0);

  constructor(
    private readonly bmp: Int32Array,
    private readonly astral: Map<number, number>,
    private readonly unk: number,
  ) {}

  /** The ids of `bytes`; the array is reused by the next call. */
  encode(bytes: Uint8Array): Int32Array {
    if (this.ids.length < bytes.length) this.ids = new Int32Array(bytes.length);
    const ids = this.ids;
    const bmp = this.bmp;
    const n = utf8CodePoints(bytes, ids);
    for (let i = 0; i < n; i++) {
      const c = ids[i];
      const id = c < 0x10000 ? bmp[c] : (this.astral.get(c) ?? -1);
      ids[i] = id >= 0 ? id : this.unk;
    }
    return ids.subarray(0, n);
  }
}

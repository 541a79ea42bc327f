import { createHash } from 'node:crypto';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Message, UserError, message } from '../errors';
import { isObject, parseJsonObject } from '../json';
import { readRegularFile } from '../safe-fs';
import { MAX_VOCAB_SIZE } from '../model-config';
import { limitPatternSearches, limitedTogether } from './bounded-patterns';
import { matchRustTokenizers } from './rust-parity';
import { CHAR_TO_BYTE } from './bytes-to-unicode';
import { FastEncoder, Utf8CharEncoder, fastEncoder } from './fast-encoders';
import { StreamEncoder } from './stream-encoder';
import { SLICE_CHARS, slicesEncodeExactly, textSlices } from './text-slices';
import { UNK } from './tokenizer-json';
import { Utf8StreamDecoder } from './utf8-stream';

/**
 * char and bpe: the two kinds Corpus Lab trains. imported: any other tokenizer.json the tokenizer
 * library loads (a downloaded model's, e.g. KoGPT2's Metaspace BPE); its token pieces come from the
 * library's own decoder rather than from a byte table.
 */
export type TokenizerKind = 'char' | 'bpe' | 'imported';

const utf8 = new TextEncoder();

/** A tokenizer.json (Hugging Face format) with encode/decode through @huggingface/tokenizers. */
export class Tokenizer {
  private readonly hf: HfTokenizer;
  private readonly idToToken: string[];
  private readonly specialIds: Set<number>;
  private readonly byteFallback: boolean;
  private readonly sliceable: boolean;
  /** Corpus Lab's own kinds: the Rust library's ids without the JS library's per-token objects. */
  private readonly fast?: FastEncoder;
  /** imported: a plain token decoded before a piece, so decoders that trim the first token's space don't. */
  private anchor?: { id: number; text: string };
  private learned?: ReadonlySet<string> | null;
  private readonly bytesOfId: Uint8Array[];
  /** Where tokenizer.json came from, when a search with one of its patterns runs under a time limit. */
  private readonly limitedSearches?: string;

  private constructor(
    private readonly json: string,
    readonly kind: TokenizerKind,
    parsed: ParsedTokenizer,
    source: string,
  ) {
    this.idToToken = parsed.idToToken;
    this.bytesOfId = new Array<Uint8Array>(parsed.idToToken.length);
    this.specialIds = parsed.specialIds;
    this.byteFallback = parsed.byteFallback;
    this.sliceable = parsed.sliceable;
    this.fast = fastEncoder(JSON.parse(json) as Record<string, unknown>, kind, parsed.sliceable);
    try {
      this.hf = new HfTokenizer(JSON.parse(json), { clean_up_tokenization_spaces: false });
    } catch (e) {
      throw new UserError('{0} could not be loaded: {1}', source, (e as Error).message);
    }
    matchRustTokenizers(this.hf);
    this.limitedSearches = limitPatternSearches(this.hf, source) ? source : undefined;
    if (kind === 'imported') {
      // A configuration the library accepts but cannot run (a broken pre-tokenizer or decoder) is
      // refused here, once, rather than failing later in the middle of a generation.
      try {
        const ids = this.encode('Corpus Lab 대한민국 \n 1.5');
        this.decode(ids);
        this.anchor = this.findAnchor();
      } catch (e) {
        throw new UserError('{0} loads but cannot encode and decode text: {1}', source, (e as Error).message);
      }
    }
  }

  /** Validates an untrusted tokenizer.json text: Corpus Lab's own kinds, or any the library runs. */
  static fromJSON(json: string, source = 'tokenizer.json'): Tokenizer {
    const parsed = parseTokenizerJson(json, source);
    return new Tokenizer(json, parsed.kind, parsed, source);
  }

  static load(path: string): Tokenizer {
    return Tokenizer.fromJSON(readRegularFile(path), path);
  }

  get vocabSize(): number {
    return this.idToToken.length;
  }

  encode(text: string): number[] {
    if (text.length === 0) return [];
    if (this.fast) return Array.from(this.fast.encode(text));
    const encode = () => this.hf.encode(text, { add_special_tokens: false }).ids;
    return this.inVocabulary(this.limitedSearches === undefined ? encode() : limitedTogether(text, this.limitedSearches, encode));
  }

  /**
   * The ids the post-processor puts around a text when special tokens are added, as transformers'
   * `tokenizer(text)` does: Llama 3's <|begin_of_text|> and Mistral's <s> before; none for GPT-2 or Qwen.
   */
  specialTokensAround(): { before: number[]; after: number[] } {
    const probe = 'a';
    const plain = this.encode(probe);
    const full = this.inVocabulary(this.hf.encode(probe, { add_special_tokens: true }).ids);
    const at = full.findIndex((_, i) => plain.every((id, k) => full[i + k] === id));
    return at < 0 ? { before: [], after: [] } : { before: full.slice(0, at), after: full.slice(at + plain.length) };
  }

  /** A downloaded tokenizer.json can map text to ids its vocabulary lacks; never pass them on. */
  private inVocabulary(ids: number[]): number[] {
    for (const id of ids)
      if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize))
        throw new UserError(
          'the tokenizer produced token id {0}, outside its {1}-token vocabulary: tokenizer.json is inconsistent',
          id,
          this.vocabSize,
        );
    return ids;
  }

  /**
   * The ids of a whole corpus, encoded a slice at a time where slices give exactly the same ids
   * (see slicesEncodeExactly), so memory follows the ids rather than the library's per-token objects.
   */
  encodeAll(text: string, sliceChars = SLICE_CHARS): Int32Array {
    if (this.fast) return this.fast.encode(text);
    if (!this.sliceable) return Int32Array.from(this.encode(text));
    // Sized for one id per UTF-16 unit (char) or UTF-8 byte (byte-level BPE; add_prefix_space can add
    // a few). A large buffer is mapped zeroed and its pages are only committed when written, so the
    // unused end costs no memory.
    let all = new Int32Array(this.kind === 'char' ? text.length : Buffer.byteLength(text));
    let at = 0;
    for (const ids of this.encodeSlices(text, sliceChars)) {
      if (at + ids.length > all.length) {
        const larger = new Int32Array(Math.max(2 * all.length, at + ids.length));
        larger.set(all.subarray(0, at));
        all = larger;
      }
      all.set(ids, at);
      at += ids.length;
    }
    return all.subarray(0, at);
  }

  /**
   * For a text read a chunk at a time (a corpus file of any size): push each chunk of UTF-8 bytes
   * (or text) and take the ids it settles, then end() for the rest; together they are exactly the
   * ids of encode(whole text), whatever the chunk edges cut (a character, a word).
   */
  streamEncoder(): StreamEncoder {
    return new StreamEncoder({ sliceable: this.sliceable, encodeSettled: (text) => this.encodeAll(text) });
  }

  /**
   * For a checked UTF-8 text read a chunk at a time whose characters are each encoded on their own
   * (the char tokenizer): ids straight from the bytes, as streamEncoder gives them. Undefined for others.
   */
  utf8Encoder(): Utf8CharEncoder | undefined {
    return this.fast?.utf8Encoder?.();
  }

  /** How many tokens encodeAll would give, without keeping them. */
  countTokens(text: string): number {
    let n = 0;
    for (const ids of this.encodeSlices(text)) n += ids.length;
    return n;
  }

  /** A corpus's ids a slice at a time (the whole text at once when slicing could change them). */
  *encodeSlices(text: string, sliceChars = SLICE_CHARS): Generator<Int32Array> {
    for (const slice of this.sliceable ? textSlices(text, sliceChars) : [text])
      yield this.fast ? this.fast.encode(slice) : Int32Array.from(this.encode(slice));
  }

  decode(ids: number[]): string {
    if (ids.length === 0) return '';
    for (const id of ids)
      if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) throw new Error(`internal: token id ${id} is outside the vocabulary`);
    return this.hf.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /**
   * imported: the text `ids` add after the anchor token. Decoders such as Metaspace drop the space
   * of the first token of a sequence; after the anchor, a piece keeps it.
   */
  decodeAfterAnchor(ids: number[]): string {
    if (!this.anchor) return this.decode(ids);
    const whole = this.decode([this.anchor.id, ...ids]);
    return whole.startsWith(this.anchor.text) ? whole.slice(this.anchor.text.length) : this.decode(ids);
  }

  private findAnchor(): { id: number; text: string } | undefined {
    for (let id = 0; id < this.vocabSize; id++) {
      if (this.specialIds.has(id)) continue;
      const text = this.decode([id]);
      if (/^[\p{L}\p{N}]+$/u.test(text)) return { id, text };
    }
    return undefined;
  }

  /** Ids a model should never generate: <unk> of a char tokenizer (it never occurs in training). */
  get neverGenerated(): number[] {
    const unk = this.kind === 'char' ? this.idToToken.indexOf(UNK) : -1;
    return unk >= 0 ? [unk] : [];
  }

  /**
   * The characters this tokenizer learned from its training text: a char tokenizer's vocabulary; a
   * byte-level BPE's characters found whole in its merged tokens (its 256 single bytes exist whatever
   * the text was, so a Latin letter a Korean corpus never had is in no merge); an imported
   * tokenizer's pieces. Null for a byte-level BPE without merges, which tells nothing.
   */
  learnedCharacters(): ReadonlySet<string> | null {
    if (this.learned !== undefined) return this.learned;
    const chars = new Set<string>();
    const lenient = new TextDecoder('utf-8');
    for (let id = 0; id < this.idToToken.length; id++) {
      if (this.specialIds.has(id)) continue;
      const token = this.idToToken[id];
      if (this.kind === 'bpe') {
        const bytes = this.tokenBytes(id);
        if (bytes.length < 2) continue;
        // A merge may start or end inside a character: those bytes decode to U+FFFD.
        for (const c of lenient.decode(bytes)) if (c !== '\uFFFD') chars.add(c);
      } else if (this.kind === 'char') {
        if (token !== UNK) chars.add(token);
      } else if (!(this.byteFallback && /^<0x[0-9A-Fa-f]{2}>$/.test(token))) for (const c of token) chars.add(c);
    }
    this.learned = this.kind === 'bpe' && chars.size === 0 ? null : chars;
    return this.learned;
  }

  /**
   * The UTF-8 bytes a token stands for (a special token: its own text). Spelling a text back runs
   * this for every token, so each id's bytes are made once and shared: never change them.
   */
  tokenBytes(id: number): Uint8Array {
    let bytes = this.bytesOfId[id];
    if (bytes === undefined) bytes = this.bytesOfId[id] = this.makeTokenBytes(id);
    return bytes;
  }

  private makeTokenBytes(id: number): Uint8Array {
    const token = this.idToToken[id];
    if (token === undefined) throw new Error(`internal: token id ${id} is outside the vocabulary`);
    if (this.kind === 'char' || this.specialIds.has(id)) return utf8.encode(token);
    if (this.kind === 'imported') {
      const hex = this.byteFallback ? /^<0x([0-9A-Fa-f]{2})>$/.exec(token) : null;
      return hex ? Uint8Array.of(parseInt(hex[1], 16)) : utf8.encode(this.decodeAfterAnchor([id]));
    }
    return Uint8Array.from(token, (c) => CHAR_TO_BYTE.get(c)!);
  }

  /** True when the token is not text on its own: a piece of a multi-byte character, or <unk>. */
  isByteFallback(id: number): boolean {
    if (this.kind === 'char') return this.idToToken[id] === UNK;
    if (this.kind === 'imported' && this.decodeAfterAnchor([id]).includes('\uFFFD')) return true;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(this.tokenBytes(id));
      return false;
    } catch {
      return true;
    }
  }

  /** How a token viewer shows it: its text, or its bytes in hex when it is part of a character. */
  tokenText(id: number): string {
    if (this.isByteFallback(id) && this.kind === 'imported') return this.idToToken[id];
    if (this.isByteFallback(id) && this.kind === 'bpe') {
      return Array.from(this.tokenBytes(id), (b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).join('');
    }
    return new TextDecoder().decode(this.tokenBytes(id));
  }

  toJSON(): string {
    return this.json;
  }

  summary(): { kind: TokenizerKind; vocabSize: number; sha256: string } {
    return { kind: this.kind, vocabSize: this.vocabSize, sha256: createHash('sha256').update(this.json).digest('hex') };
  }
}

/** Streaming decode of generated ids: text comes out as soon as whole characters are complete. */
export function decodeStream(tok: Tokenizer): { push(id: number): string; flush(): string } {
  if (tok.kind === 'imported') {
    // No byte table: decode everything so far with the library and pass on what is new, holding
    // back an unfinished character (U+FFFD at the end) until the next token completes it.
    const ids: number[] = [];
    let sent = '';
    const next = (final: boolean) => {
      const text = tok.decodeAfterAnchor(ids);
      const ready = final ? text : text.replace(/\uFFFD+$/, '');
      if (!ready.startsWith(sent)) return '';
      const out = ready.slice(sent.length);
      sent = ready;
      return out;
    };
    return { push: (id) => (ids.push(id), next(false)), flush: () => next(true) };
  }
  const bytes = new Utf8StreamDecoder();
  return { push: (id) => bytes.push(tok.tokenBytes(id)), flush: () => bytes.flush() };
}

interface ParsedTokenizer {
  kind: TokenizerKind;
  idToToken: string[];
  specialIds: Set<number>;
  byteFallback: boolean;
  sliceable: boolean;
}

const MODEL_TYPES = ['BPE', 'WordPiece', 'WordLevel', 'Unigram'];
/** Real BPE tokenizers have up to about twice as many merges as tokens (Llama 3: 280k for 128k). */
const MAX_MERGES = 4 * MAX_VOCAB_SIZE;

function parseTokenizerJson(json: string, source: string): ParsedTokenizer {
  const fail = (why: Message): never => {
    throw new UserError('{0}: {1}', source, why);
  };
  const raw = parseJsonObject(json, source);
  const model = raw.model;
  if (!isObject(model)) return fail(message('has no "model" object'));
  if (typeof model.type !== 'string' || !MODEL_TYPES.includes(model.type))
    fail(message('model type {0} is not supported ({1})', JSON.stringify(model.type), MODEL_TYPES.join(', ')));
  const idToToken: string[] = [];
  const tooMany = (what: string, n: number, max: number) => {
    if (n > max) fail(message('{0} has {1} entries, more than the {2} Corpus Lab reads', what, n, max));
  };
  if (model.type === 'Unigram') {
    if (!Array.isArray(model.vocab)) return fail(message('model.vocab of a Unigram model is not a list'));
    tooMany('model.vocab', model.vocab.length, MAX_VOCAB_SIZE);
    for (const entry of model.vocab as unknown[]) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number')
        fail(message('model.vocab has a malformed entry {0}', JSON.stringify(entry).slice(0, 60)));
      idToToken.push((entry as [string, number])[0]);
    }
  } else {
    if (!isObject(model.vocab)) return fail(message('model.vocab is not an object'));
    const entries = Object.entries(model.vocab);
    tooMany('model.vocab', entries.length, MAX_VOCAB_SIZE);
    for (const [token, id] of entries) {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= entries.length)
        fail(message('model.vocab gives "{0}" the id {1}; ids must be 0…{2}', token, JSON.stringify(id), entries.length - 1));
      if (idToToken[id as number] !== undefined) fail(message('model.vocab gives id {0} to two tokens', String(id)));
      idToToken[id as number] = token;
    }
  }
  if (idToToken.length === 0) fail(message('model.vocab is empty'));
  if (model.type === 'BPE') {
    if (!Array.isArray(model.merges)) fail(message('model.merges is not a list'));
    tooMany('model.merges', (model.merges as unknown[]).length, MAX_MERGES);
    for (const m of model.merges as unknown[]) {
      const ok =
        typeof m === 'string' ? m.split(' ').length === 2 : Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === 'string');
      if (!ok) fail(message('model.merges has a malformed entry {0}', JSON.stringify(m).slice(0, 60)));
    }
  }
  const specialIds = new Set<number>();
  if (raw.added_tokens !== undefined) {
    if (!Array.isArray(raw.added_tokens)) fail(message('added_tokens is not a list'));
    tooMany('added_tokens', (raw.added_tokens as unknown[]).length, MAX_VOCAB_SIZE);
    const modelSize = idToToken.length;
    for (const t of raw.added_tokens as unknown[]) {
      if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id)) fail(message('added_tokens has a malformed entry'));
      const { id, content } = t as { id: number; content: string };
      // In the model's vocabulary with that id, or (downloaded tokenizers) appended right after it.
      if (id < modelSize ? idToToken[id] !== content : id !== idToToken.length)
        fail(message('added token "{0}" (id {1}) is not in model.vocab with that id', content, id));
      if (id === idToToken.length) idToToken.push(content);
      specialIds.add(id);
    }
  }
  const byteFallback = model.byte_fallback === true;
  const pre = isObject(raw.pre_tokenizer) ? raw.pre_tokenizer.type : undefined;
  const decoder = isObject(raw.decoder) ? raw.decoder.type : undefined;
  if (model.type === 'BPE' && decoder === 'ByteLevel') {
    // Byte-level BPE (GPT-2's, ours, or with another pre-tokenizer): every piece is byte symbols.
    for (const [i, token] of idToToken.entries()) {
      if (!specialIds.has(i) && [...token].some((c) => !CHAR_TO_BYTE.has(c)))
        fail(message('token "{0}" is not made of byte-level symbols', token));
    }
    return { kind: 'bpe', idToToken, specialIds, byteFallback, sliceable: slicesEncodeExactly(raw, 'bpe') };
  }
  if (model.type === 'BPE' && pre === 'Split' && decoder === 'Fuse' && (model.merges as unknown[]).length === 0) {
    if (model.unk_token !== UNK || !idToToken.includes(UNK)) fail(message('a character tokenizer needs unk_token "{0}" in its vocab', UNK));
    return { kind: 'char', idToToken, specialIds, byteFallback, sliceable: slicesEncodeExactly(raw, 'char') };
  }
  return { kind: 'imported', idToToken, specialIds, byteFallback, sliceable: false };
}

import { createHash } from 'node:crypto';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors';
import { isObject, parseJsonObject } from '../json';
import { readRegularFile } from '../safe-fs';
import { CHAR_TO_BYTE } from './bytes-to-unicode';
import { UNK } from './tokenizer-json';
import { Utf8StreamDecoder } from './utf8-stream';

export type TokenizerKind = 'char' | 'bpe';

const utf8 = new TextEncoder();

/** A tokenizer.json (Hugging Face format) with encode/decode through @huggingface/tokenizers. */
export class Tokenizer {
  private readonly hf: HfTokenizer;
  private readonly idToToken: string[];
  private readonly specialIds: Set<number>;

  private constructor(private readonly json: string, readonly kind: TokenizerKind, parsed: ParsedTokenizer) {
    this.idToToken = parsed.idToToken;
    this.specialIds = parsed.specialIds;
    try {
      this.hf = new HfTokenizer(JSON.parse(json), { clean_up_tokenization_spaces: false });
    } catch (e) {
      throw new UserError(`tokenizer.json could not be loaded: ${(e as Error).message}`);
    }
  }

  /** Validates an untrusted tokenizer.json text; supports the two kinds Corpus Lab writes. */
  static fromJSON(json: string, source = 'tokenizer.json'): Tokenizer {
    const parsed = parseTokenizerJson(json, source);
    return new Tokenizer(json, parsed.kind, parsed);
  }

  static load(path: string): Tokenizer {
    return Tokenizer.fromJSON(readRegularFile(path), path);
  }

  get vocabSize(): number {
    return this.idToToken.length;
  }

  encode(text: string): number[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    if (ids.length === 0) return '';
    for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) throw new Error(`internal: token id ${id} is outside the vocabulary`);
    return this.hf.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** Ids a model should never generate: <unk> of a char tokenizer (it never occurs in training). */
  get neverGenerated(): number[] {
    const unk = this.kind === 'char' ? this.idToToken.indexOf(UNK) : -1;
    return unk >= 0 ? [unk] : [];
  }

  /** The UTF-8 bytes a token stands for (a special token: its own text). */
  tokenBytes(id: number): Uint8Array {
    const token = this.idToToken[id];
    if (token === undefined) throw new Error(`internal: token id ${id} is outside the vocabulary`);
    if (this.kind === 'char' || this.specialIds.has(id)) return utf8.encode(token);
    return Uint8Array.from(token, (c) => CHAR_TO_BYTE.get(c)!);
  }

  /** True when the token is not text on its own: a piece of a multi-byte character, or <unk>. */
  isByteFallback(id: number): boolean {
    if (this.kind === 'char') return this.idToToken[id] === UNK;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(this.tokenBytes(id));
      return false;
    } catch {
      return true;
    }
  }

  /** How a token viewer shows it: its text, or its bytes in hex when it is part of a character. */
  tokenText(id: number): string {
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
  const bytes = new Utf8StreamDecoder();
  return { push: (id) => bytes.push(tok.tokenBytes(id)), flush: () => bytes.flush() };
}

interface ParsedTokenizer {
  kind: TokenizerKind;
  idToToken: string[];
  specialIds: Set<number>;
}

function parseTokenizerJson(json: string, source: string): ParsedTokenizer {
  const fail = (why: string): never => {
    throw new UserError(`${source}: ${why}`);
  };
  const raw = parseJsonObject(json, source);
  const model = raw.model;
  if (!isObject(model)) return fail('has no "model" object');
  if (model.type !== 'BPE') fail(`model type ${JSON.stringify(model.type)} is not supported (Corpus Lab writes BPE models)`);
  if (!isObject(model.vocab)) return fail('model.vocab is not an object');
  const entries = Object.entries(model.vocab);
  if (entries.length === 0) fail('model.vocab is empty');
  const idToToken: string[] = new Array(entries.length);
  for (const [token, id] of entries) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= entries.length) fail(`model.vocab gives "${token}" the id ${JSON.stringify(id)}; ids must be 0…${entries.length - 1}`);
    if (idToToken[id as number] !== undefined) fail(`model.vocab gives id ${id} to two tokens`);
    idToToken[id as number] = token;
  }
  if (!Array.isArray(model.merges)) fail('model.merges is not a list');
  for (const m of model.merges as unknown[]) {
    const ok = typeof m === 'string' ? m.split(' ').length === 2 : Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === 'string');
    if (!ok) fail(`model.merges has a malformed entry ${JSON.stringify(m).slice(0, 60)}`);
  }
  const specialIds = new Set<number>();
  if (raw.added_tokens !== undefined) {
    if (!Array.isArray(raw.added_tokens)) fail('added_tokens is not a list');
    for (const t of raw.added_tokens as unknown[]) {
      if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id)) fail('added_tokens has a malformed entry');
      const { id, content } = t as { id: number; content: string };
      if (idToToken[id] !== content) fail(`added token "${content}" (id ${id}) is not in model.vocab with that id`);
      specialIds.add(id);
    }
  }
  const pre = isObject(raw.pre_tokenizer) ? raw.pre_tokenizer.type : undefined;
  const decoder = isObject(raw.decoder) ? raw.decoder.type : undefined;
  if (pre === 'ByteLevel' && decoder === 'ByteLevel') {
    for (const [i, token] of idToToken.entries()) {
      if (!specialIds.has(i) && [...token].some((c) => !CHAR_TO_BYTE.has(c))) fail(`token "${token}" is not made of byte-level symbols`);
    }
    return { kind: 'bpe', idToToken, specialIds };
  }
  if (pre === 'Split' && decoder === 'Fuse' && (model.merges as unknown[]).length === 0) {
    if (model.unk_token !== UNK || !idToToken.includes(UNK)) fail(`a character tokenizer needs unk_token "${UNK}" in its vocab`);
    return { kind: 'char', idToToken, specialIds };
  }
  return fail(`pre-tokenizer ${JSON.stringify(pre)} with decoder ${JSON.stringify(decoder)} is not a Corpus Lab tokenizer (char or byte-level BPE)`);
}

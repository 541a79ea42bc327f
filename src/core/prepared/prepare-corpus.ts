import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '../atomic-write';
import { etaSeconds } from '../duration';
import { UserError } from '../errors';
import { isObject } from '../json';
import { PreTokenCounter, Tokenizer, TokenizerKind, trainBpeFromCounts, trainTokenizer } from '../tokenizer';
import { utf8CodePoints } from '../tokenizer/utf8-code-points';
import {
  checkDiskSpace,
  knownSha256,
  preparedCacheRoot,
  preparedDir,
  recordSha256,
  trainedTokenizerPath,
  readPreparedFile,
  recordVerified,
  unchangedSinceVerified,
  writePreparedFolder,
} from './prepared-cache';
import { CorpusSource, PreparedLayout, corpusSource } from './corpus-source';
import { cleanedSource, preparedKey } from './source-cleaned';
import { CleanOptions, CleanRule, cleanRuleNames } from '../clean';
import { PreparationCancelled, SourceFile, TextSink } from './source-text';
import { Steps, runSteps, runStepsAsync } from './steps';
import { TokenDtype, TokenFile, dtypeBytes, tokenDtype } from './token-file';

export const PREPARED_FORMAT = 'corpus-lab-prepared';

/** prepared.json: what the ids in tokens.bin are, and how to tell they are whole. */
export interface PreparedMeta {
  format: typeof PREPARED_FORMAT;
  format_version: 1;
  /** `clean`: the optional rules of a text cleaned as it was read (source-cleaned.ts); absent when not cleaned. */
  source: { path: string; bytes: number; sha256: string; clean?: CleanRule[] };
  tokenizer: { kind: TokenizerKind; vocab_size: number; sha256: string };
  dtype: TokenDtype;
  tokens: number;
  tokens_sha256: string;
  /** How often each id occurs (the unigram baseline of a split is read from these and the other split's ids). */
  id_counts: number[];
  /** Where each document's ids start (a text file is one; a folder is held out per document, document-layout.ts). */
  documents: number[];
  created: string;
}

export interface PreparedCorpus {
  dir: string;
  meta: PreparedMeta;
  tokenizer: Tokenizer;
  /** The ids, read from tokens.bin as training draws them; close() when done. */
  tokens: TokenFile;
  /** True when a earlier preparation was reused. */
  reused: boolean;
  layout: PreparedLayout;
}

/** How a new run makes its tokenizer from the text. */
export interface TokenizerRecipe {
  kind: TokenizerKind;
  vocabSize?: number;
}

export type PreparePhase = 'read' | 'encode' | 'verify';

export interface PrepareProgress {
  phase: PreparePhase;
  done: number;
  total: number;
  /** Seconds since the phase began. */
  elapsed_s: number;
  /** Seconds left at the rate so far; unknown until a little has been done. */
  eta_s?: number;
}

export interface PrepareOptions {
  cacheRoot?: string;
  onProgress?: (p: PrepareProgress) => void;
  /** Checked between chunks: true stops with PreparationCancelled, leaving nothing half-written. */
  shouldStop?: () => boolean;
  /** Told when prepared data was found damaged and is prepared again. */
  onNotice?: (message: string) => void;
  /** Clean the text as it is read, with these optional rules (`{}`: the steps that always run); never by default. */
  clean?: CleanOptions;
}

export { PreparationCancelled };

const TOKENS_FILE = 'tokens.bin';
const META_FILE = 'prepared.json';
const TOKENIZER_FILE = 'tokenizer.json';

/**
 * The corpus at `path` (a text file, or a folder of documents stored one after another) as token
 * ids on disk, prepared once per (text, tokenizer) and reused: a cached preparation is checked whole (size and sha256) before it is used, and prepared again when not.
 * `tokenizer`: the run's own (a resume, an export), or the recipe of a new run's.
 */
export function prepareCorpus(path: string, tokenizer: Tokenizer | TokenizerRecipe, opts: PrepareOptions = {}): Promise<PreparedCorpus> {
  return runStepsAsync(prepareSteps(path, tokenizer, opts));
}

/** prepareCorpus for a caller that may block (nothing to cancel it). */
export function prepareCorpusSync(path: string, tokenizer: Tokenizer | TokenizerRecipe, opts: PrepareOptions = {}): PreparedCorpus {
  return runSteps(prepareSteps(path, tokenizer, opts));
}

/** prepareCorpus as steps, for a caller whose own work is steps around it (core/export-torch/token-files.ts). */
export function* prepareSteps(path: string, tokenizer: Tokenizer | TokenizerRecipe, opts: PrepareOptions): Steps<PreparedCorpus> {
  const root = opts.cacheRoot ?? preparedCacheRoot();
  const text = corpusSource(path);
  const source = opts.clean ? cleanedSource(text, opts.clean) : text;
  mkdirSync(root, { recursive: true });
  removeStaleTemps(root);
  let sha256 = knownSha256(root, path, source.stamp);
  let tok: Tokenizer;
  if (tokenizer instanceof Tokenizer) tok = tokenizer;
  else {
    const made = yield* tokenizerFor(root, source, tokenizer, sha256, opts);
    tok = made.tokenizer;
    sha256 = made.sha256;
  }
  if (sha256 === undefined) sha256 = (yield* text.steps({ utf8: noText }, noText, streamOptions('read', opts))).sha256;
  recordSha256(root, path, source.stamp, sha256);

  const dtype = tokenDtype(tok.vocabSize);
  const tokSha = tok.summary().sha256;
  const dir = preparedDir(root, preparedKey(sha256, opts.clean), tokSha);
  if (existsSync(dir)) {
    const damage = yield* damageOf(dir, sha256, tokSha, opts);
    if (damage === undefined) {
      recordVerified(dir, [TOKENS_FILE]);
      return opened(dir, tok, true, source.layout);
    }
    opts.onNotice?.(`the prepared data of ${path} in ${dir} is damaged (${damage}); preparing it again`);
    rmSync(dir, { recursive: true, force: true });
  }
  checkDiskSpace(root, source.bytes * dtypeBytes(dtype), path);
  yield* writePreparedFolder(dir, META_FILE, function* (temp) {
    const written = yield* encodeInto(join(temp, TOKENS_FILE), source, tok, dtype, opts);
    if (written.source.sha256 !== sha256)
      throw new UserError('{0} changed while it was being prepared: prepare it again once it is saved', path);
    const meta: PreparedMeta = {
      format: PREPARED_FORMAT,
      format_version: 1,
      source: {
        path: written.source.path,
        bytes: written.source.bytes,
        sha256,
        ...(opts.clean ? { clean: cleanRuleNames(opts.clean) } : {}),
      },
      tokenizer: { kind: tok.kind, vocab_size: tok.vocabSize, sha256: tokSha },
      dtype,
      tokens: written.tokens,
      tokens_sha256: written.sha256,
      id_counts: Array.from(written.idCounts),
      documents: written.documents,
      created: new Date().toISOString(),
    };
    writeFileAtomic(join(temp, TOKENIZER_FILE), tok.toJSON());
    return meta;
  });
  recordVerified(dir, [TOKENS_FILE]);
  return opened(dir, tok, false, source.layout);
}

/** A new run's tokenizer: kept from an earlier run on the same text, else trained (the text's hash learned on the way). */
function* tokenizerFor(
  root: string,
  source: CorpusSource,
  recipe: TokenizerRecipe,
  known: string | undefined,
  opts: PrepareOptions,
): Steps<{ tokenizer: Tokenizer; sha256: string }> {
  if (known !== undefined) {
    const kept = trainedTokenizerPath(root, preparedKey(known, opts.clean), recipe.kind, recipe.vocabSize);
    if (existsSync(kept)) {
      try {
        return { tokenizer: Tokenizer.fromJSON(readFileSync(kept, 'utf8'), kept), sha256: known };
      } catch {
        rmSync(kept, { force: true }); // damaged: trained again below
      }
    }
  }
  let made: { tokenizer: Tokenizer; sha256: string };
  if (recipe.kind === 'char') {
    // A char vocabulary is the text's characters: one streamed pass collects them.
    const chars = new CodePointSet();
    const read = yield* source.steps({ utf8: (bytes) => chars.addUtf8(bytes) }, noText, streamOptions('read', opts));
    made = { tokenizer: trainTokenizer(chars.text(), recipe), sha256: read.sha256 };
  } else {
    // BPE learns from the counts of the text's pre-tokens, streamed (as Hugging Face's trainer counts words).
    const counter = new PreTokenCounter();
    // A document's last word ends with it (counted at its end, not joined to the next document's first).
    const read = yield* source.steps(
      (text) => counter.push(text),
      () => counter.end(),
      streamOptions('read', opts),
    );
    made = { tokenizer: trainBpeFromCounts(counter, recipe.vocabSize), sha256: read.sha256 };
  }
  writeFileAtomic(trainedTokenizerPath(root, preparedKey(made.sha256, opts.clean), recipe.kind, recipe.vocabSize), made.tokenizer.toJSON());
  return made;
}

/** The distinct characters of a text seen a piece at a time (a flag per code point: far faster than a Set of strings). */
class CodePointSet {
  private readonly seen = new Uint8Array(0x110000);
  private codePoints = new Int32Array(0);

  /** Whole characters of checked UTF-8. */
  addUtf8(bytes: Uint8Array): void {
    if (this.codePoints.length < bytes.length) this.codePoints = new Int32Array(bytes.length);
    const codePoints = this.codePoints;
    const seen = this.seen;
    const n = utf8CodePoints(bytes, codePoints);
    for (let i = 0; i < n; i++) seen[codePoints[i]] = 1;
  }

  /** Each character once, in code-point order. */
  text(): string {
    let out = '';
    for (let c = 0; c < this.seen.length; c++) if (this.seen[c]) out += String.fromCodePoint(c);
    return out;
  }
}

/** Encodes the text into `out` in one streamed pass, each document on its own: its ids, their count and sha256, and the text's. */
function* encodeInto(
  out: string,
  source: CorpusSource,
  tok: Tokenizer,
  dtype: TokenDtype,
  opts: PrepareOptions,
): Steps<{ source: SourceFile; tokens: number; sha256: string; idCounts: Float64Array; documents: number[] }> {
  const fd = openSync(out, 'wx');
  const hash = createHash('sha256');
  let tokens = 0;
  const idCounts = new Float64Array(tok.vocabSize);
  // The ids as stored, in one array reused for every chunk.
  let stored: Uint16Array | Uint32Array = new Uint16Array(0);
  const write = (ids: Int32Array) => {
    if (ids.length === 0) return;
    if (stored.length < ids.length) stored = dtype === 'uint16' ? new Uint16Array(ids.length) : new Uint32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      idCounts[id]++;
      stored[i] = id;
    }
    const bytes = Buffer.from(stored.buffer, stored.byteOffset, ids.length * stored.BYTES_PER_ELEMENT);
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    hash.update(bytes);
    tokens += ids.length;
  };
  try {
    const encoder = tok.streamEncoder();
    const documents = [0];
    const endDocument = () => {
      write(encoder.end());
      documents.push(tokens);
    };
    // The char tokenizer encodes each character alone: its ids come straight from the bytes read.
    const fromBytes = tok.utf8Encoder();
    const sink: TextSink = fromBytes ? { utf8: (bytes) => write(fromBytes.encode(bytes)) } : (text) => write(encoder.push(text));
    const read = yield* source.steps(sink, endDocument, streamOptions('encode', opts));
    fsyncSync(fd);
    return { source: read, tokens, sha256: hash.digest('hex'), idCounts, documents: documents.slice(0, -1) };
  } finally {
    closeSync(fd);
  }
}

/** Why a prepared folder cannot be used as it is, or undefined when it is whole. */
function* damageOf(dir: string, sourceSha: string, tokSha: string, opts: PrepareOptions): Steps<string | undefined> {
  let meta: PreparedMeta;
  try {
    meta = parseMeta(readFileSync(join(dir, META_FILE), 'utf8'));
  } catch (e) {
    return `${META_FILE}: ${(e as Error).message}`;
  }
  if (meta.source.sha256 !== sourceSha || meta.tokenizer.sha256 !== tokSha) return `${META_FILE} is for another text or tokenizer`;
  if (unchangedSinceVerified(dir, [TOKENS_FILE])) return undefined;
  const expected = meta.tokens * dtypeBytes(meta.dtype);
  const read = yield* readPreparedFile(join(dir, TOKENS_FILE), expected, progressReporter('verify', expected, opts), opts.shouldStop);
  if ('unreadable' in read) return `${TOKENS_FILE}: ${read.unreadable}`;
  if (read.bytes !== expected) return `${TOKENS_FILE} is ${read.bytes} bytes, not the ${expected} of ${meta.tokens} ${meta.dtype} ids`;
  if (read.sha256 !== meta.tokens_sha256) return `${TOKENS_FILE} does not match its sha256`;
  return undefined;
}

function parseMeta(text: string): PreparedMeta {
  const m: unknown = JSON.parse(text);
  const ok =
    isObject(m) &&
    m.format === PREPARED_FORMAT &&
    m.format_version === 1 &&
    isObject(m.source) &&
    isObject(m.tokenizer) &&
    (m.dtype === 'uint16' || m.dtype === 'uint32') &&
    Number.isSafeInteger(m.tokens) &&
    Array.isArray(m.id_counts) &&
    Array.isArray(m.documents) &&
    m.documents.every(
      (at: unknown, i: number, all: unknown[]) =>
        Number.isSafeInteger(at) && (i === 0 ? at === 0 : (at as number) >= (all[i - 1] as number)),
    ) &&
    m.documents.every((at: unknown) => (at as number) <= (m.tokens as number)) &&
    m.id_counts.length === m.tokenizer.vocab_size &&
    m.id_counts.reduce((n: number, c: unknown) => n + (Number.isSafeInteger(c) ? (c as number) : NaN), 0) === m.tokens &&
    typeof m.tokens_sha256 === 'string';
  if (!ok) throw new Error('not a prepared corpus description');
  return m as unknown as PreparedMeta;
}

// tokens.bin's identity when its sha256 was last found right. Any write to the file since (a
// truncation, a changed byte) changes its ctime, which no program can set back, so while the
// identity holds the hash need not be read again (1 GB of ids: ~2 s), as for the text itself.
function opened(dir: string, tok: Tokenizer, reused: boolean, layout: PreparedLayout): PreparedCorpus {
  const meta = parseMeta(readFileSync(join(dir, META_FILE), 'utf8'));
  const tokens = TokenFile.open(join(dir, TOKENS_FILE), meta.dtype, meta.tokens);
  tokens.totals = Float64Array.from(meta.id_counts);
  return { dir, meta, tokenizer: tok, tokens, reused, layout };
}

function noText(): void {}

export function streamOptions(phase: PreparePhase, opts: PrepareOptions) {
  let report: ((done: number) => void) | undefined;
  return {
    shouldStop: opts.shouldStop,
    onBytes: (done: number, total: number) => {
      report ??= progressReporter(phase, total, opts);
      report(done);
    },
  };
}

/** Progress a few times a second, with the time left at the rate so far. */
export function progressReporter(phase: PreparePhase, total: number, opts: PrepareOptions): (done: number) => void {
  const started = performance.now();
  let last = -Infinity;
  return (done) => {
    const now = performance.now();
    if (!opts.onProgress || (now - last < 250 && done < total)) return;
    last = now;
    const seconds = (now - started) / 1000;
    const eta_s = seconds > 0.5 ? etaSeconds(total - done, done, seconds) : undefined;
    opts.onProgress({ phase, done, total, elapsed_s: seconds, eta_s });
  };
}

import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemps } from '../atomic-write';
import { chatTemplateText } from '../chat-template';
import { checkCorpusFile } from '../corpus';
import { UserError } from '../errors';
import { countChars, tokenTextBytes } from '../baselines';
import { ExampleRows, TargetTotals, targetsOf } from '../example-batches';
import { isObject } from '../json';
import { SftFormat } from '../sft-data';
import { ExampleTokenizer, IGNORED, SftCounts, SftModel, SftRow } from '../sft-examples';
import { Tokenizer } from '../tokenizer';
import { PrepareOptions, progressReporter, streamOptions } from './prepare-corpus';
import {
  checkDiskSpace,
  knownSha256,
  preparedCacheRoot,
  preparedDir,
  readPreparedFile,
  recordSha256,
  recordVerified,
  sha256Hex,
  unchangedSinceVerified,
  writePreparedFolder,
} from './prepared-cache';
import { JSONL_TEXTS, jsonlExampleSteps, jsonlSha256 } from './source-jsonl';
import { textFileSteps } from './source-text';
import { Steps, runSteps, runStepsAsync } from './steps';
import { TokenDtype, dtypeBytes, tokenDtype } from './token-file';

export const ROWS_FORMAT = 'corpus-lab-sft-rows';

/** What changes the rows besides the file: they are prepared again when any of it does. */
export interface RowsKey {
  tokenizer_sha256: string;
  /** sha256 of the chat template's text and its BOS/EOS strings, or null without a template. */
  chat_template_sha256: string | null;
  eos_id: number | null;
  /** Tokens per row at most, less one (the training window). */
  context: number;
}

/** rows.json: what the row files hold, and how to tell they are whole. */
export interface RowsMeta {
  format: typeof ROWS_FORMAT;
  format_version: 2;
  /** The file's own sha256 (as a run records its data); the cache folder is keyed by its jsonlSha256. */
  source: { path: string; bytes: number; sha256: string };
  key: RowsKey;
  example_format: SftFormat;
  counts: SftCounts;
  dtype: TokenDtype;
  rows: number;
  tokens: number;
  vocab_size: number;
  /** Bytes of target-chars.json. */
  target_chars_bytes: number;
  /**
   * sha256 of ids.bin (dtype), mask.bin (a byte per token: 1 trained, 0 not), offsets.bin (float64,
   * rows + 1), targets.bin (uint32 per row: its trained targets), target-ids.bin (float64 per id: how
   * often it is a trained target) and target-chars.json (TargetChars): what training's baselines and
   * batches of held-out targets would otherwise read every row for.
   */
  sha256: Record<keyof typeof FILES, string>;
  created: string;
}

export interface PreparedRows {
  dir: string;
  meta: RowsMeta;
  /** The examples, read a row at a time from the files; close() when done. */
  rows: RowFile;
  reused: boolean;
}

const FILES = {
  ids: 'ids.bin',
  mask: 'mask.bin',
  offsets: 'offsets.bin',
  targets: 'targets.bin',
  targetIds: 'target-ids.bin',
  targetChars: 'target-chars.json',
} as const;
type FileName = keyof typeof FILES;
const FILE_NAMES = Object.keys(FILES) as FileName[];
const ROW_FILES = FILE_NAMES.map((name) => FILES[name]);

/** target-chars.json: the characters of every row's trained targets, each row decoded on its own; `utf8` false when some row's are not whole UTF-8 (then none are counted). */
interface TargetChars {
  utf8: boolean;
  chars: [string, number][];
}
const META_FILE = 'rows.json';
const CHUNK_BYTES = 4 << 20;
const COUNT_BLOCK_ROWS = 16384;

/**
 * A .jsonl of examples (TRL's formats) as rows on disk, tokenised and masked as tokenizeExamples
 * does, read a line at a time: memory holds a chunk of the file and one example, never the file.
 * Prepared once per (file, tokenizer, chat template, end-of-text id, context) in the prepared-data
 * cache and reused; rows found damaged (size, sha256) are prepared again.
 */
export function prepareSftRows(path: string, model: SftModel, context: number, opts: PrepareOptions = {}): Promise<PreparedRows> {
  return runStepsAsync(rowsSteps(path, model, context, opts));
}

export function prepareSftRowsSync(path: string, model: SftModel, context: number, opts: PrepareOptions = {}): PreparedRows {
  return runSteps(rowsSteps(path, model, context, opts));
}

function* rowsSteps(path: string, model: SftModel, context: number, opts: PrepareOptions): Steps<PreparedRows> {
  const root = opts.cacheRoot ?? preparedCacheRoot();
  const stat = checkCorpusFile(path);
  mkdirSync(root, { recursive: true });
  removeStaleTemps(root);
  // The same stamp and sha256 as the file's {"text"} preparation (corpus-source.ts): one fingerprint per file.
  const stamp = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, listing: JSONL_TEXTS };
  let sha256 = knownSha256(root, path, stamp);
  sha256 ??= jsonlSha256((yield* textFileSteps(path, { utf8: noText }, streamOptions('read', opts))).sha256);
  recordSha256(root, path, stamp, sha256);

  const key = rowsKey(model, context);
  const dir = preparedDir(root, sha256, sha256Hex(`${ROWS_FORMAT}\0${JSON.stringify(key)}`));
  if (existsSync(dir)) {
    const damage = yield* damageOf(dir, sha256, key, opts);
    if (damage === undefined) {
      recordVerified(dir, ROW_FILES);
      return opened(dir, true, model.tokenizer);
    }
    opts.onNotice?.(`the prepared rows of ${path} in ${dir} are damaged (${damage}); preparing them again`);
    rmSync(dir, { recursive: true, force: true });
  }
  const dtype = tokenDtype(model.tokenizer.vocabSize);
  // At most a token per byte of the file, each stored with its mask byte.
  checkDiskSpace(root, stat.size * (dtypeBytes(dtype) + 1), path);
  yield* writePreparedFolder(dir, META_FILE, function* (temp) {
    const written = yield* writeRows(temp, path, model, context, dtype, opts);
    if (jsonlSha256(written.source.sha256) !== sha256)
      throw new UserError('{0} changed while it was being prepared: prepare it again once it is saved', path);
    const meta: RowsMeta = {
      format: ROWS_FORMAT,
      format_version: 2,
      source: written.source,
      key,
      example_format: written.format,
      counts: written.counts,
      dtype,
      rows: written.rows,
      tokens: written.tokens,
      vocab_size: model.tokenizer.vocabSize,
      target_chars_bytes: written.targetCharsBytes,
      sha256: written.sha256,
      created: new Date().toISOString(),
    };
    return meta;
  });
  recordVerified(dir, ROW_FILES);
  return opened(dir, false, model.tokenizer);
}

function rowsKey(model: SftModel, context: number): RowsKey {
  const chat = model.chat && chatTemplateText(model.dir);
  return {
    tokenizer_sha256: model.tokenizer.summary().sha256,
    chat_template_sha256: model.chat && chat ? sha256Hex(JSON.stringify([chat.text, model.chat.bosToken, model.chat.eosToken])) : null,
    eos_id: model.eosId ?? null,
    context,
  };
}

/** Tokenises the file's examples one at a time into the three row files of `dir`. */
function* writeRows(dir: string, path: string, model: SftModel, context: number, dtype: TokenDtype, opts: PrepareOptions) {
  const files = Object.fromEntries(FILE_NAMES.map((name) => [name, new HashedFile(join(dir, FILES[name]))])) as Record<
    FileName,
    HashedFile
  >;
  const { ids, mask, offsets } = files;
  const targetIds = new Float64Array(model.tokenizer.vocabSize);
  const chars = new Map<string, number>();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let utf8 = true;
  const count = new Uint32Array(1);
  try {
    const tokenizer = new ExampleTokenizer(model, context, path);
    let format: SftFormat | undefined;
    let rows = 0;
    let tokens = 0;
    const offset = new Float64Array(1);
    const put = () => offsets.write(new Uint8Array(offset.buffer));
    put();
    const source = yield* jsonlExampleSteps(
      path,
      (example, line) => {
        format ??= example.format;
        const row = tokenizer.row(example, line);
        if (!row) return;
        const stored = dtype === 'uint16' ? Uint16Array.from(row.ids) : Uint32Array.from(row.ids);
        ids.write(new Uint8Array(stored.buffer));
        mask.write(Uint8Array.from(row.labels, (l) => (l === IGNORED ? 0 : 1)));
        const targets = targetsOf(row);
        count[0] = targets.length;
        files.targets.write(new Uint8Array(count.buffer));
        for (let i = 0; i < targets.length; i++) targetIds[targets[i]]++;
        if (utf8) {
          const bytes = tokenTextBytes(model.tokenizer, targets);
          utf8 = isUtf8(bytes);
          if (utf8) countChars(decoder.decode(bytes), chars);
        }
        rows++;
        tokens += row.ids.length;
        offset[0] = tokens;
        put();
      },
      streamOptions('encode', opts),
    );
    tokenizer.end();
    files.targetIds.write(new Uint8Array(targetIds.buffer));
    const charsJson = Buffer.from(JSON.stringify({ utf8, chars: utf8 ? [...chars] : [] } satisfies TargetChars));
    files.targetChars.write(charsJson);
    const sha256 = Object.fromEntries(FILE_NAMES.map((name) => [name, files[name].finish()])) as Record<FileName, string>;
    return { source, format: format!, counts: tokenizer.counts, rows, tokens, sha256, targetCharsBytes: charsJson.length };
  } finally {
    for (const f of Object.values(files)) f.close();
  }
}

/** A file written through a buffer of a few MB, hashed as it goes; finish() flushes and fsyncs it. */
class HashedFile {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  private used = 0;
  private readonly hash = createHash('sha256');

  constructor(path: string) {
    this.fd = openSync(path, 'wx');
  }

  write(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.buf.length) this.flush();
    if (bytes.length > this.buf.length) return this.put(bytes);
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  finish(): string {
    this.flush();
    fsyncSync(this.fd);
    return this.hash.digest('hex');
  }

  close(): void {
    closeSync(this.fd);
  }

  private flush(): void {
    this.put(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private put(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at, bytes.length - at);
    this.hash.update(bytes);
  }
}

/** Why a prepared rows folder cannot be used as it is, or undefined when it is whole. */
function* damageOf(dir: string, sourceSha: string, key: RowsKey, opts: PrepareOptions): Steps<string | undefined> {
  let meta: RowsMeta;
  try {
    meta = parseMeta(readFileSync(join(dir, META_FILE), 'utf8'));
  } catch (e) {
    return `${META_FILE}: ${(e as Error).message}`;
  }
  if (jsonlSha256(meta.source.sha256) !== sourceSha || JSON.stringify(meta.key) !== JSON.stringify(key))
    return `${META_FILE} is for another file, tokenizer or context`;
  if (unchangedSinceVerified(dir, ROW_FILES)) return undefined;
  const expected = fileSizes(meta);
  const report = progressReporter(
    'verify',
    FILE_NAMES.reduce((n, name) => n + expected[name], 0),
    opts,
  );
  let verified = 0;
  for (const name of FILE_NAMES) {
    const read = yield* readPreparedFile(join(dir, FILES[name]), expected[name], (at) => report(verified + at), opts.shouldStop);
    if ('unreadable' in read) return `${FILES[name]}: ${read.unreadable}`;
    if (read.bytes !== expected[name]) return `${FILES[name]} is ${read.bytes} bytes, not ${expected[name]}`;
    if (read.sha256 !== meta.sha256[name]) return `${FILES[name]} does not match its sha256`;
    verified += read.bytes;
  }
  return undefined;
}

function fileSizes(meta: RowsMeta): Record<FileName, number> {
  return {
    ids: meta.tokens * dtypeBytes(meta.dtype),
    mask: meta.tokens,
    offsets: (meta.rows + 1) * 8,
    targets: meta.rows * 4,
    targetIds: meta.vocab_size * 8,
    targetChars: meta.target_chars_bytes,
  };
}

function parseMeta(text: string): RowsMeta {
  const m: unknown = JSON.parse(text);
  const ok =
    isObject(m) &&
    m.format === ROWS_FORMAT &&
    m.format_version === 2 &&
    isObject(m.source) &&
    isObject(m.key) &&
    isObject(m.counts) &&
    isObject(m.sha256) &&
    typeof m.example_format === 'string' &&
    (m.dtype === 'uint16' || m.dtype === 'uint32') &&
    Number.isSafeInteger(m.rows) &&
    Number.isSafeInteger(m.tokens) &&
    Number.isSafeInteger(m.vocab_size) &&
    Number.isSafeInteger(m.target_chars_bytes);
  if (!ok) throw new Error('not a prepared rows description');
  return m as unknown as RowsMeta;
}

function opened(dir: string, reused: boolean, tokenizer: Tokenizer): PreparedRows {
  const meta = parseMeta(readFileSync(join(dir, META_FILE), 'utf8'));
  return { dir, meta, rows: RowFile.open(dir, meta, tokenizer), reused };
}

/**
 * Prepared rows read one at a time with positional reads (Node has no memory map): a row's two
 * offsets, ids and mask are read when it is drawn, so memory holds none of them.
 */
export class RowFile implements ExampleRows {
  private raw = Buffer.allocUnsafeSlow(4096);
  private readonly bounds = new Float64Array(2);
  private fds: Record<FileName, number> | undefined;
  /** A block of targets.bin: the trained-target counts of rows [countsFrom, countsFrom + counts.length). */
  private counts = new Uint32Array(0);
  private countsFrom = 0;

  private constructor(
    private readonly dir: string,
    private readonly meta: RowsMeta,
    private readonly tokenizer: Tokenizer,
    fds: Record<FileName, number>,
  ) {
    this.fds = fds;
  }

  get length(): number {
    return this.meta.rows;
  }

  static open(dir: string, meta: RowsMeta, tokenizer: Tokenizer): RowFile {
    const sizes = fileSizes(meta);
    const fds = Object.fromEntries(FILE_NAMES.map((name) => [name, -1])) as Record<FileName, number>;
    try {
      for (const name of FILE_NAMES) {
        fds[name] = openSync(join(dir, FILES[name]), 'r');
        if (fstatSync(fds[name]).size !== sizes[name])
          throw new UserError('{0} was cut short while training read it: prepare the corpus again', join(dir, FILES[name]));
      }
    } catch (e) {
      for (const fd of Object.values(fds)) if (fd >= 0) closeSync(fd);
      throw e;
    }
    return new RowFile(dir, meta, tokenizer, fds);
  }

  size(i: number): number {
    const [start, end] = this.rowBounds(i);
    return end - start;
  }

  row(i: number): SftRow {
    const [start, end] = this.rowBounds(i);
    const n = end - start;
    const width = dtypeBytes(this.meta.dtype);
    const stored = this.read('ids', start * width, n * width);
    const ids = Int32Array.from(this.meta.dtype === 'uint16' ? new Uint16Array(stored.buffer, 0, n) : new Uint32Array(stored.buffer, 0, n));
    const mask = this.read('mask', start, n);
    const labels = new Int32Array(n);
    for (let k = 0; k < n; k++) labels[k] = mask[k] ? ids[k] : IGNORED;
    return { ids, labels };
  }

  targetCount(i: number): number {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new Error(`internal: row ${i} of ${this.length}`);
    if (i < this.countsFrom || i >= this.countsFrom + this.counts.length) {
      // Read a block at a time: a pass over the rows' counts is one read per COUNT_BLOCK_ROWS rows.
      this.countsFrom = i - (i % COUNT_BLOCK_ROWS);
      const n = Math.min(COUNT_BLOCK_ROWS, this.length - this.countsFrom);
      const bytes = this.read('targets', this.countsFrom * 4, n * 4);
      this.counts = new Uint32Array(n);
      new Uint8Array(this.counts.buffer).set(bytes);
    }
    return this.counts[i - this.countsFrom];
  }

  targetTotals(excluded: Int32Array = new Int32Array(0)): TargetTotals {
    const ids = new Float64Array(this.meta.vocab_size);
    new Uint8Array(ids.buffer).set(this.read('targetIds', 0, ids.byteLength));
    const stored = JSON.parse(this.read('targetChars', 0, this.meta.target_chars_bytes).toString('utf8')) as TargetChars;
    const chars = stored.utf8 ? new Map(stored.chars) : undefined;
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    for (const r of excluded) {
      const targets = targetsOf(this.row(r));
      for (let i = 0; i < targets.length; i++) ids[targets[i]]--;
      if (!chars) continue;
      for (const [c, n] of countChars(decoder.decode(tokenTextBytes(this.tokenizer, targets)))) {
        const left = chars.get(c)! - n;
        if (left > 0) chars.set(c, left);
        else chars.delete(c);
      }
    }
    return { ids, chars };
  }

  close(): void {
    if (this.fds) for (const fd of Object.values(this.fds)) closeSync(fd);
    this.fds = undefined;
  }

  /** Where row i's tokens start and end. */
  private rowBounds(i: number): [number, number] {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new Error(`internal: row ${i} of ${this.length}`);
    new Uint8Array(this.bounds.buffer).set(this.read('offsets', i * 8, 16));
    return [this.bounds[0], this.bounds[1]];
  }

  private read(name: keyof typeof FILES, position: number, bytes: number): Buffer {
    if (!this.fds) throw new Error('internal: rows read after close()');
    if (this.raw.length < bytes) this.raw = Buffer.allocUnsafeSlow(bytes);
    for (let done = 0; done < bytes;) {
      const got = readSync(this.fds[name], this.raw, done, bytes - done, position + done);
      if (got === 0) throw new UserError('{0} was cut short while training read it: prepare the corpus again', join(this.dir, FILES[name]));
      done += got;
    }
    return this.raw.subarray(0, bytes);
  }
}

function noText(): void {}

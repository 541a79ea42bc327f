import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { writeFileAtomic } from '../atomic-write';
import { UserError } from '../errors';
import { PreparedCorpus, prepareCorpusSync } from '../prepared/prepare-corpus';
import { TokenDtype, TokenFile } from '../prepared/token-file';
import { Tokenizer } from '../tokenizer';
import { sha256 } from './folder';

/** A token stream to export: prepared ids on disk (a text file's), or ids in memory (documents). */
export type ExportIds = TokenFile | Int32Array;

/** True when `path` is one text file (not a folder of documents, not a .jsonl of examples): its ids are prepared on disk. */
export function isTextFile(path: string): boolean {
  let folder = false;
  try {
    folder = statSync(path).isDirectory();
  } catch {
    // preparing it says what is wrong with the path
  }
  return !folder && extname(path).toLowerCase() !== '.jsonl';
}

/**
 * The ids of a text a run trained on, from its prepared data (prepared now if they are not yet),
 * checked to be of the run's own text; close its tokens when done.
 */
export function preparedText(corpus: { path: string; sha256?: string }, tokenizer: Tokenizer): PreparedCorpus {
  const prepared = preparedTextIfUnchanged(corpus, tokenizer);
  if (!prepared)
    throw new UserError(
      "{0} has changed since the run was trained on it (sha256 differs from run.json): the export needs the run's own corpus",
      corpus.path,
    );
  return prepared;
}

/** preparedText, or undefined when the text is no longer the one recorded. */
export function preparedTextIfUnchanged(corpus: { path: string; sha256?: string }, tokenizer: Tokenizer): PreparedCorpus | undefined {
  const prepared = prepareCorpusSync(corpus.path, tokenizer);
  if (prepared.meta.source.sha256 === corpus.sha256) return prepared;
  prepared.tokens.close();
  return undefined;
}

/**
 * Writes ids [start, end) into `file` as nanoGPT's train.bin stores them (little-endian `dtype`);
 * prepared ids are copied as stored, never held whole. Returns the file's sha256.
 */
export function writeTokenRange(ids: ExportIds, dtype: TokenDtype, start: number, end: number, file: string): string {
  if (!(ids instanceof Int32Array)) {
    if (ids.dtype !== dtype) throw new Error(`internal: ${ids.path} holds ${ids.dtype} ids, the export ${dtype}`);
    return ids.copyRange(start, end, file);
  }
  const part = ids.subarray(start, end);
  const typed = dtype === 'uint16' ? Uint16Array.from(part) : Uint32Array.from(part);
  const data = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
  writeFileAtomic(file, data);
  return sha256(data);
}

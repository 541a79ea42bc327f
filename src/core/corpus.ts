import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Stats, readFileSync, statSync } from 'node:fs';
import { UserError } from './errors';
import { formatBytes } from './format-bytes';

export interface Corpus {
  text: string;
  bytes: number;
  sha256: string;
}

// Above this a char-level epoch is days of CPU time and the token arrays crowd a worker's heap.
export const DEFAULT_MAX_CORPUS_BYTES = 64 * 1024 * 1024;

/** Reads a text file to train on; every way it can be unusable is one clear UserError. */
export function readCorpus(path: string, opts: { maxBytes?: number } = {}): Corpus {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_CORPUS_BYTES;
  const stat = checkCorpusFile(path);
  if (stat.size > maxBytes) {
    throw new UserError('{0} is {1}, over the {2} limit: train on a part of it', path, formatBytes(stat.size), formatBytes(maxBytes));
  }
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UserError('{0}: cannot read ({1})', path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  const problem = corpusProblem(buf);
  if (problem) throw corpusProblemError(path, problem);
  let text = new TextDecoder('utf-8').decode(buf);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text, bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}

/** The file's stat when `path` is a regular file; else why not, as one UserError. */
export function checkCorpusFile(path: string): Stats {
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw code === 'ENOENT' || code === 'ENOTDIR'
      ? new UserError('{0}: no such file', path)
      : new UserError('{0}: cannot read ({1})', path, code ?? String(e));
  }
  if (stat.isDirectory()) throw new UserError('{0} is a folder: pass a text file', path);
  if (!stat.isFile()) throw new UserError('{0} is not a regular file', path);
  return stat;
}

export function corpusProblemError(path: string, problem: CorpusProblem): UserError {
  if (problem.kind === 'empty') return new UserError('{0} is empty: nothing to train on', path);
  if (problem.kind === 'binary')
    return new UserError('{0} looks like a binary file (NUL byte at offset {1}), not text', path, problem.offset);
  return new UserError('{0} is not valid UTF-8 (first bad byte at offset {1}): re-save it as UTF-8', path, problem.offset);
}

export type CorpusProblem = { kind: 'empty' } | { kind: 'binary'; offset: number } | { kind: 'not-utf8'; offset: number };

/** Why these bytes are no text to train on (empty, binary, not UTF-8), or undefined when they are. */
export function corpusProblem(buf: Uint8Array): CorpusProblem | undefined {
  const bom = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  if (buf.length <= bom) return { kind: 'empty' };
  const nul = buf.indexOf(0);
  if (nul >= 0) return { kind: 'binary', offset: nul };
  // Checked without decoding: a decoded copy of a large corpus would double its memory.
  if (!isUtf8(buf)) return { kind: 'not-utf8', offset: firstInvalidUtf8(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)) };
  return undefined;
}

/** Offset of the first byte that breaks UTF-8; only called once decoding has already failed. */
function firstInvalidUtf8(buf: Buffer): number {
  // Largest prefix that decodes as an unfinished stream: the bad byte follows it.
  const validPrefix = (end: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, end), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  let lo = 0;
  let hi = buf.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (validPrefix(mid)) lo = mid;
    else hi = mid - 1;
  }
  if (lo === buf.length) {
    // The text ends inside a multi-byte character: point at its first byte.
    while (lo > 0 && (buf[lo - 1] & 0xc0) === 0x80) lo--;
    lo = Math.max(0, lo - 1);
  }
  return lo;
}

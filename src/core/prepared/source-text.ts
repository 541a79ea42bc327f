import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { checkCorpusFile, corpusProblem, corpusProblemError } from '../corpus';
import { Steps, runSteps } from './steps';

export interface SourceFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface StreamOptions {
  /** Bytes read so far of the total; called after each chunk. */
  onBytes?: (done: number, total: number) => void;
  /** Checked between chunks; true stops the read with PreparationCancelled. */
  shouldStop?: () => boolean;
  chunkBytes?: number;
}

export class PreparationCancelled extends Error {
  constructor() {
    super('preparation cancelled');
  }
}

const CHUNK_BYTES = 4 << 20;

/**
 * Reads a text file to train on a chunk at a time, handing its text to `onText` in pieces that
 * never split a character, and refusing it (as readCorpus would: empty, binary, not UTF-8) at the
 * chunk where that shows. Memory holds one chunk whatever the file's size.
 */
export function streamTextFile(path: string, onText: (text: string) => void, opts: StreamOptions = {}): SourceFile {
  return runSteps(textFileSteps(path, onText, opts));
}

/** streamTextFile a chunk per step. */
export function* textFileSteps(path: string, onText: (text: string) => void, opts: StreamOptions = {}): Steps<SourceFile> {
  const total = checkCorpusFile(path).size;
  const hash = createHash('sha256');
  // Not fatal on a BOM: TextDecoder drops one leading BOM as readCorpus does.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const buf = Buffer.allocUnsafeSlow(opts.chunkBytes ?? CHUNK_BYTES);
  const fd = openSync(path, 'r');
  let done = 0;
  let started = false;
  let carry = Buffer.alloc(0);
  try {
    for (;;) {
      if (opts.shouldStop?.()) throw new PreparationCancelled();
      const got = readSync(fd, buf, 0, buf.length, done);
      if (got === 0) break;
      const chunk = buf.subarray(0, got);
      hash.update(chunk);
      const nul = chunk.indexOf(0);
      if (nul >= 0) throw corpusProblemError(path, { kind: 'binary', offset: done + nul });
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const problem = corpusProblem(Buffer.concat([carry, chunk]));
        const offset = problem?.kind === 'not-utf8' ? problem.offset : 0;
        throw corpusProblemError(path, { kind: 'not-utf8', offset: done - carry.length + offset });
      }
      carry = Buffer.from(incompleteTail(chunk, carry));
      done += got;
      if (!started && text.length > 0) {
        started = true;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      if (text.length > 0) onText(text);
      opts.onBytes?.(done, total);
      yield;
    }
    try {
      const rest = decoder.decode();
      if (rest.length > 0) onText(rest);
    } catch {
      throw corpusProblemError(path, { kind: 'not-utf8', offset: done - carry.length });
    }
  } finally {
    closeSync(fd);
  }
  if (done === 0 || !started) throw corpusProblemError(path, { kind: 'empty' });
  return { path, bytes: done, sha256: hash.digest('hex') };
}

/** The bytes of an unfinished character at the end of what has been read (the chunk after `before`). */
function incompleteTail(chunk: Buffer, before: Buffer): Uint8Array {
  const bytes = chunk.length >= 3 ? chunk.subarray(chunk.length - 3) : Buffer.concat([before, chunk]).subarray(-3);
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back];
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.subarray(bytes.length - back) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}

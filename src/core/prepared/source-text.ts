import { isUtf8 } from 'node:buffer';
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
 * Where a file's text goes: as strings, or as its UTF-8 bytes for a consumer that reads them itself
 * (no string is made). The bytes are whole characters, checked, the BOM dropped; the array is
 * reused by the next chunk.
 */
export type TextSink = ((text: string) => void) | { utf8: (bytes: Uint8Array) => void };

/**
 * Reads a text file to train on a chunk at a time, handing its text to `sink` in pieces that never
 * split a character, and refusing it (as readCorpus would: empty, binary, not UTF-8) at the chunk
 * where that shows. Memory holds one chunk whatever the file's size.
 */
export function streamTextFile(path: string, sink: TextSink, opts: StreamOptions = {}): SourceFile {
  return runSteps(textFileSteps(path, sink, opts));
}

/** streamTextFile a chunk per step. */
export function* textFileSteps(path: string, sink: TextSink, opts: StreamOptions = {}): Steps<SourceFile> {
  const total = checkCorpusFile(path).size;
  const hash = createHash('sha256');
  const onBytes = typeof sink === 'function' ? decodingInto(sink) : sink.utf8;
  const chunkBytes = opts.chunkBytes ?? CHUNK_BYTES;
  // Room before the chunk for the bytes of a character the previous chunk cut.
  const buf = Buffer.allocUnsafeSlow(chunkBytes + 3);
  const fd = openSync(path, 'r');
  let done = 0;
  let carried = 0;
  let first = true;
  let started = false;
  try {
    for (;;) {
      if (opts.shouldStop?.()) throw new PreparationCancelled();
      const got = readSync(fd, buf, carried, chunkBytes, done);
      if (got === 0) break;
      const fresh = buf.subarray(carried, carried + got);
      hash.update(fresh);
      const nul = fresh.indexOf(0);
      if (nul >= 0) throw corpusProblemError(path, { kind: 'binary', offset: done + nul });
      const read = buf.subarray(0, carried + got);
      const whole = read.subarray(0, read.length - unfinishedTail(read));
      if (!isUtf8(whole)) {
        const problem = corpusProblem(whole);
        const offset = problem?.kind === 'not-utf8' ? problem.offset : 0;
        throw corpusProblemError(path, { kind: 'not-utf8', offset: done - carried + offset });
      }
      // One BOM is dropped as TextDecoder drops it, and then one more as readCorpus does.
      let from = 0;
      if (first && whole.length > 0) {
        first = false;
        if (isBom(whole, 0)) from = 3;
      }
      if (!started && whole.length > from) {
        started = true;
        if (isBom(whole, from)) from += 3;
      }
      if (whole.length > from) onBytes(whole.subarray(from));
      read.copy(buf, 0, whole.length);
      carried = read.length - whole.length;
      done += got;
      opts.onBytes?.(done, total);
      yield;
    }
    if (carried > 0) throw corpusProblemError(path, { kind: 'not-utf8', offset: done - carried });
  } finally {
    closeSync(fd);
  }
  if (done === 0 || !started) throw corpusProblemError(path, { kind: 'empty' });
  return { path, bytes: done, sha256: hash.digest('hex') };
}

/** Whole characters of checked UTF-8, decoded to `onText`. */
function decodingInto(onText: (text: string) => void): (bytes: Uint8Array) => void {
  // Never fails on checked bytes; and Node's fatal decoder is ~1.8× faster than its lenient one.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  return (bytes) => {
    const text = decoder.decode(bytes);
    if (text.length > 0) onText(text);
  };
}

function isBom(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0xef && bytes[at + 1] === 0xbb && bytes[at + 2] === 0xbf;
}

/** How many bytes at the end of `bytes` begin a character they do not finish. */
function unfinishedTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back];
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

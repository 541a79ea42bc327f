import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { UserError } from '../errors';

const COPY_BYTES = 4 << 20;

/** How ids are stored on disk, little-endian as nanoGPT's train.bin: uint16 when the vocabulary fits. */
export type TokenDtype = 'uint16' | 'uint32';

export const MAX_UINT32_VOCAB = 2 ** 32;

export function tokenDtype(vocabSize: number): TokenDtype {
  if (vocabSize > MAX_UINT32_VOCAB)
    throw new UserError(
      'a vocabulary of {0} tokens is past what uint32 token ids hold ({1}): use a smaller vocabulary',
      vocabSize,
      MAX_UINT32_VOCAB,
    );
  return vocabSize <= 65536 ? 'uint16' : 'uint32';
}

export function dtypeBytes(dtype: TokenDtype): number {
  return dtype === 'uint16' ? 2 : 4;
}

/** A sequence of token ids read a range at a time, in memory or from a file. */
export interface TokenReader {
  readonly length: number;
  /** Ids [start, end); the array may be reused by the next call, so copy what must outlive it. */
  view(start: number, end: number): Int32Array;
  /** How often each id occurs in ids [start, end), when the reader knows faster than by reading them all. */
  rangeIdCounts?(start: number, end: number, vocabSize: number): Float64Array;
  /**
   * The characters the ids decode to, a byte-order mark at the start kept, when the reader knows faster
   * than by decoding them all (the ids are whole UTF-8 pieces, each row of targets a text of its own).
   */
  charCounts?(): Map<string, number>;
}

export function memoryTokens(ids: Int32Array): TokenReader {
  return { length: ids.length, view: (start, end) => ids.subarray(start, end) };
}

export function asTokenReader(tokens: Int32Array | TokenReader): TokenReader {
  return tokens instanceof Int32Array ? memoryTokens(tokens) : tokens;
}

/** Ids [start, end) of `tokens` as a sequence of their own (a split). */
export function tokenRange(tokens: TokenReader, start: number, end = tokens.length): TokenReader {
  const range: TokenReader = { length: end - start, view: (a, b) => tokens.view(start + a, start + b) };
  if (tokens.rangeIdCounts) range.rangeIdCounts = (a, b, vocabSize) => tokens.rangeIdCounts!(start + a, start + b, vocabSize);
  return range;
}

/** How often each id occurs in the sequence. */
export function idCounts(tokens: TokenReader, vocabSize: number): Float64Array {
  return (
    tokens.rangeIdCounts?.(0, tokens.length, vocabSize) ?? countIds(tokens, 0, tokens.length, vocabSize, 1, new Float64Array(vocabSize))
  );
}

/** Adds `sign` × each id's count in [start, end) to `into`. */
function countIds(tokens: TokenReader, start: number, end: number, vocabSize: number, sign: number, into: Float64Array): Float64Array {
  for (const chunk of tokenChunks(tokenRange(tokens, start, end))) for (let i = 0; i < chunk.length; i++) into[chunk[i]] += sign;
  return into;
}

/** The ids in consecutive arrays of at most `size` (each reused by the next). */
export function* tokenChunks(tokens: TokenReader, size = 1 << 20): Generator<Int32Array> {
  for (let at = 0; at < tokens.length; at += size) yield tokens.view(at, Math.min(tokens.length, at + size));
}

/**
 * Ids in a file of uint16 or uint32, read with positional reads into one reused buffer: Node has no
 * memory map, and reading only the windows a batch draws keeps memory flat in the file's size (the
 * page cache holds what is read often).
 */
export class TokenFile implements TokenReader {
  private raw = Buffer.allocUnsafeSlow(0);
  private ids = new Int32Array(0);
  private readonly width: number;
  /** How often each id occurs in the whole file, when its preparation counted them. */
  totals?: Float64Array;

  private constructor(
    readonly path: string,
    readonly dtype: TokenDtype,
    readonly length: number,
    private fd: number,
  ) {
    this.width = dtypeBytes(dtype);
  }

  /** Opens a token file that must hold exactly `length` ids of `dtype`. */
  static open(path: string, dtype: TokenDtype, length: number): TokenFile {
    const fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    if (size !== length * dtypeBytes(dtype)) {
      closeSync(fd);
      throw new Error(`internal: ${path} is ${size} bytes, not ${length} ${dtype} ids`);
    }
    return new TokenFile(path, dtype, length, fd);
  }

  view(start: number, end: number): Int32Array {
    if (start < 0 || end > this.length || start > end) throw new Error(`internal: tokens ${start}..${end} of ${this.length}`);
    const n = end - start;
    const bytes = n * this.width;
    if (this.raw.length < bytes) {
      this.raw = Buffer.allocUnsafeSlow(bytes);
      this.ids = new Int32Array(n);
    }
    let done = 0;
    while (done < bytes) {
      const got = readSync(this.fd, this.raw, done, bytes - done, start * this.width + done);
      if (got === 0) throw new UserError('{0} was cut short while training read it: prepare the corpus again', this.path);
      done += got;
    }
    const out = this.ids.subarray(0, n);
    out.set(this.dtype === 'uint16' ? new Uint16Array(this.raw.buffer, 0, n) : new Uint32Array(this.raw.buffer, 0, n));
    return out;
  }

  /** From the totals, reading only the ids outside the range when they are fewer. */
  rangeIdCounts(start: number, end: number, vocabSize: number): Float64Array {
    const totals = this.totals;
    if (!totals || totals.length !== vocabSize || 2 * (end - start) < this.length)
      return countIds(memoryless(this), start, end, vocabSize, 1, new Float64Array(vocabSize));
    const counts = Float64Array.from(totals);
    countIds(memoryless(this), 0, start, vocabSize, -1, counts);
    return countIds(memoryless(this), end, this.length, vocabSize, -1, counts);
  }

  /** Copies ids [start, end) as they are stored into a new file at `path` (fsynced); returns its sha256. */
  copyRange(start: number, end: number, path: string): string {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafeSlow(COPY_BYTES);
    const out = openSync(path, 'wx');
    try {
      for (let at = start * this.width; at < end * this.width;) {
        const want = Math.min(buf.length, end * this.width - at);
        const got = readSync(this.fd, buf, 0, want, at);
        if (got === 0) throw new UserError('{0} was cut short while it was copied: prepare the corpus again', this.path);
        for (let w = 0; w < got;) w += writeSync(out, buf, w, got - w);
        hash.update(buf.subarray(0, got));
        at += got;
      }
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    return hash.digest('hex');
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** The file as a plain reader (its ranges counted by reading them). */
function memoryless(file: TokenFile): TokenReader {
  return { length: file.length, view: (a, b) => file.view(a, b) };
}

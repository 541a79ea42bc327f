import { forEachPreToken } from './pre-token-scanner';
import { TextSettler } from './stream-encoder';

/**
 * Distinct pieces kept while counting. Past it, the rarest are dropped (see prunedBelow): the map,
 * and the trainer's tables built from it, stay within a few hundred MB whatever the corpus's size.
 */
export const MAX_COUNTED_PIECES = 150_000;

/** Counts told apart when choosing which to drop (a piece seen more often is never dropped). */
const PRUNE_COUNTS_SEEN = 1 << 16;

/** A piece cut from a large chunk refers to the whole chunk (V8 sliced strings): copy it. */
const detached = (piece: string) => (piece.length < 13 ? piece : Buffer.from(piece, 'utf16le').toString('utf16le'));

/**
 * How often each GPT-2 pre-token (word, number, punctuation, space run) occurs in a text that
 * arrives in pieces, as the Rust BpeTrainer counts its words; a piece cut by a chunk edge is
 * counted whole. The text itself is never kept.
 */
export class PreTokenCounter {
  readonly counts = new Map<string, number>();
  /** UTF-8 bytes counted. */
  bytes = 0;
  /**
   * 0 while every piece is counted exactly. Otherwise pieces seen fewer than this many times (at
   * the moment of pruning) were dropped, and a piece dropped then met again counts only from
   * then on: a merge that only such rare pieces would have decided can differ from Rust's.
   */
  prunedBelow = 0;
  private readonly settler = new TextSettler();

  constructor(private readonly maxPieces = MAX_COUNTED_PIECES) {}

  push(text: string): void {
    this.bytes += Buffer.byteLength(text);
    this.count(this.settler.push(text));
  }

  /** Counts the text held back after the last push; call once at the end. */
  end(): Map<string, number> {
    this.count(this.settler.end());
    return this.counts;
  }

  private count(text: string): void {
    const counts = this.counts;
    forEachPreToken(text, 0, text.length, (start, end) => {
      const piece = text.slice(start, end);
      const n = counts.get(piece);
      if (n !== undefined) counts.set(piece, n + 1);
      else {
        counts.set(detached(piece), 1);
        if (counts.size > this.maxPieces) this.prune();
      }
    });
  }

  /** Drops the pieces seen fewer than t times, the smallest t that leaves at most half the cap. */
  private prune(): void {
    const byCount = new Float64Array(PRUNE_COUNTS_SEEN);
    for (const n of this.counts.values()) byCount[Math.min(n, PRUNE_COUNTS_SEEN - 1)]++;
    let below = 1;
    for (let left = this.counts.size; left > this.maxPieces / 2 && below < PRUNE_COUNTS_SEEN - 1; below++) left -= byCount[below];
    for (const [piece, n] of this.counts) if (n < below) this.counts.delete(piece);
    this.prunedBelow = Math.max(this.prunedBelow, below);
  }
}

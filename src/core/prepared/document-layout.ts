import { trainedLength } from '../documents';
import { endOfText } from '../hf-export';
import type { PreparedCorpus } from './prepare-corpus';
import { TokenReader, idCounts, tokenChunks, tokenRange } from './token-file';

/**
 * Documents' ids, stored one document after another, read in the order documentTokens lays them
 * out in memory: every document's training part, then every held-out part, each part followed by
 * the end-of-text id. Nothing is copied: a read maps each position to its document's part.
 */
export function documentLayout(
  ids: TokenReader,
  starts: readonly number[],
  eosId: number | undefined,
  valFraction: number,
): { tokens: TokenReader; heldOut: number } {
  const ends = eosId === undefined ? 0 : 1;
  const n = starts.length;
  // Part k < n: document k's training ids; part n + k: its held-out ids. Typed arrays: a folder may hold many documents.
  const from = new Float64Array(2 * n);
  const to = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const end = i + 1 < n ? starts[i + 1] : ids.length;
    const cut = starts[i] + trainedLength(end - starts[i], valFraction);
    [from[i], to[i], from[n + i], to[n + i]] = [starts[i], cut, cut, end];
  }
  // offsets[k]: where part k begins in the laid-out sequence (its ids, then its end-of-text id; an empty part is nothing).
  const offsets = new Float64Array(2 * n + 1);
  for (let k = 0; k < 2 * n; k++) offsets[k + 1] = offsets[k] + (to[k] > from[k] ? to[k] - from[k] + ends : 0);
  const heldOut = offsets[2 * n] - offsets[n];
  let out = new Int32Array(0);
  const view = (start: number, end: number): Int32Array => {
    if (start < 0 || end > length || start > end) throw new Error(`internal: tokens ${start}..${end} of ${length}`);
    if (out.length < end - start) out = new Int32Array(end - start);
    let k = partAt(offsets, start);
    for (let at = start; at < end; k++) {
      const [a, b] = [from[k], to[k]];
      if (b === a) continue;
      const skip = at - offsets[k];
      const upTo = Math.min(b - a, end - offsets[k]);
      if (skip < upTo) {
        out.set(ids.view(a + skip, a + upTo), at - start);
        at += upTo - skip;
      }
      if (ends && at < end && at === offsets[k + 1] - 1) out[at++ - start] = eosId!;
    }
    return out.subarray(0, end - start);
  };
  const length = offsets[2 * n];
  const tokens: TokenReader = { length, view };
  const { rangeIdCounts } = ids;
  if (rangeIdCounts) {
    // The layout holds every stored id once and an end-of-text id per part: a long range's counts are
    // those totals less the ids outside it (the training split's baseline reads only the held-out ids).
    tokens.rangeIdCounts = (start, end, vocabSize) => {
      if (2 * (end - start) < length) return idCounts(tokenRange({ length, view }, start, end), vocabSize);
      const counts = rangeIdCounts.call(ids, 0, ids.length, vocabSize);
      if (ends) for (let k = 0; k < 2 * n; k++) if (to[k] > from[k]) counts[eosId!]++;
      for (const [a, b] of [
        [0, start],
        [end, length],
      ])
        for (const chunk of tokenChunks(tokenRange(tokens, a, b))) for (let i = 0; i < chunk.length; i++) counts[chunk[i]]--;
      return counts;
    };
  }
  return { tokens, heldOut };
}

/** The part holding position `at`: the last k with offsets[k] ≤ at. */
function partAt(offsets: Float64Array, at: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The ids a run trains on and how many of the last are held out: a folder's documents laid out with
 * the tokenizer's end-of-text id between them (none for a char vocabulary), a text as it is.
 */
export function trainingTokens(prepared: PreparedCorpus, valFraction: number): { tokens: TokenReader; heldOut?: number } {
  if (prepared.layout === 'text') return { tokens: prepared.tokens };
  const eosId = endOfText(prepared.tokenizer.toJSON())?.id;
  return documentLayout(prepared.tokens, prepared.meta.documents, eosId, valFraction);
}

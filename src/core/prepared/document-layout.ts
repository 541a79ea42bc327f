import { trainedLength } from '../documents';
import { endOfText } from '../hf-export';
import type { PreparedCorpus } from './prepare-corpus';
import { TokenReader } from './token-file';

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
  const train: [number, number][] = [];
  const held: [number, number][] = [];
  starts.forEach((start, i) => {
    const end = i + 1 < starts.length ? starts[i + 1] : ids.length;
    const cut = start + trainedLength(end - start, valFraction);
    if (cut > start) train.push([start, cut]);
    if (end > cut) held.push([cut, end]);
  });
  const parts = [...train, ...held];
  // offsets[k]: where part k begins in the laid-out sequence (its ids, then its end-of-text id).
  const offsets = new Float64Array(parts.length + 1);
  parts.forEach(([a, b], k) => (offsets[k + 1] = offsets[k] + b - a + ends));
  const heldOut = held.reduce((n, [a, b]) => n + b - a + ends, 0);
  let out = new Int32Array(0);
  const view = (start: number, end: number): Int32Array => {
    if (start < 0 || end > length || start > end) throw new Error(`internal: tokens ${start}..${end} of ${length}`);
    if (out.length < end - start) out = new Int32Array(end - start);
    let k = partAt(offsets, start);
    for (let at = start; at < end; k++) {
      const [a, b] = parts[k];
      const from = at - offsets[k];
      const upTo = Math.min(b - a, end - offsets[k]);
      if (from < upTo) {
        out.set(ids.view(a + from, a + upTo), at - start);
        at += upTo - from;
      }
      if (ends && at < end && at === offsets[k + 1] - 1) out[at++ - start] = eosId!;
    }
    return out.subarray(0, end - start);
  };
  const length = offsets[parts.length];
  return { tokens: { length, view }, heldOut };
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
  if (!prepared.folder) return { tokens: prepared.tokens };
  const eosId = endOfText(prepared.tokenizer.toJSON())?.id;
  return documentLayout(prepared.tokens, prepared.meta.documents, eosId, valFraction);
}

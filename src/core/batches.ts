import { Rng, mixSeed } from './rng';
import { TokenReader, asTokenReader } from './prepared/token-file';

/**
 * One epoch = every training token seen once: the split is cut into context-long windows from a
 * random shift, and the windows are visited in a seeded random order. The plan depends only on
 * (seed, epoch), so a run resumed at (epoch, cursor) sees exactly the batches it would have seen.
 */
export class EpochPlan {
  readonly starts: Int32Array;

  constructor(tokenCount: number, context: number, seed: number, epoch: number) {
    const maxStart = tokenCount - context - 1;
    if (maxStart < 0) throw new Error(`internal: ${tokenCount} tokens cannot hold a window of ${context}`);
    const rng = new Rng(mixSeed(seed, epoch, 0xe90c));
    const shift = rng.below(Math.min(context, maxStart + 1));
    const count = Math.floor((maxStart - shift) / context) + 1;
    const starts = new Int32Array(count);
    for (let i = 0; i < count; i++) starts[i] = shift + i * context;
    for (let i = count - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      const t = starts[i];
      starts[i] = starts[j];
      starts[j] = t;
    }
    this.starts = starts;
  }
}

export function stepsPerEpoch(tokenCount: number, context: number, batch: number): number {
  // Windows of the shift-free cut; a shifted cut may hold one fewer, and fillBatch wraps around.
  const windows = Math.floor((tokenCount - context - 1) / context) + 1;
  return Math.max(1, Math.ceil(Math.max(1, windows) / batch));
}

/** Fills inputs and next-token targets for batch `cursor` of an epoch (wrapping around if short). */
export function fillBatch(
  tokens: Int32Array | TokenReader,
  plan: EpochPlan,
  cursor: number,
  batch: number,
  context: number,
  inputs: Int32Array,
  targets: Int32Array,
): void {
  const n = plan.starts.length;
  const starts = Array.from({ length: batch }, (_, b) => plan.starts[(cursor * batch + b) % n]);
  fillWindows(tokens, starts, context, inputs, targets);
}

/** Copies each window's tokens into `inputs` and the tokens one to the right into `targets`. */
export function fillWindows(
  tokens: Int32Array | TokenReader,
  starts: readonly number[],
  context: number,
  inputs: Int32Array,
  targets: Int32Array,
): void {
  const reader = asTokenReader(tokens);
  starts.forEach((start, b) => {
    const window = reader.view(start, start + context + 1);
    inputs.set(window.subarray(0, context), b * context);
    targets.set(window.subarray(1), b * context);
  });
}

/** Non-overlapping windows over a split, in order: the fixed evaluation set. */
export function evalWindowStarts(tokenCount: number, context: number, maxWindows: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + context + 1 <= tokenCount && starts.length < maxWindows; s += context) starts.push(s);
  return starts;
}

/**
 * Windows that score every token from the second on exactly once, each from as much of what
 * precedes it in its window as there is: contiguous windows of `context`, then (Hugging Face's
 * strided perplexity) one ending at the last token whose last `scored` targets only are new.
 */
export function coveringWindows(tokenCount: number, context: number): { starts: number[]; tail?: { start: number; scored: number } } {
  const starts = evalWindowStarts(tokenCount, context, Number.MAX_SAFE_INTEGER);
  const scored = tokenCount - 1 - starts.length * context;
  return scored > 0 ? { starts, tail: { start: tokenCount - 1 - context, scored } } : { starts };
}

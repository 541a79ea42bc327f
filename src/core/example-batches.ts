import { Rng, mixSeed } from './rng';
import { IGNORED, SftRow } from './sft-examples';

/**
 * Batches of examples, one per row and never packed: a row holds one example from its first token,
 * padded (input 0, target IGNORED) to the longest row of its batch. Packing would need a
 * block-diagonal mask in every attention path (tfjs, the native kernels, the fused decode's
 * training twin); padding to the batch's longest costs little for question/answer pairs of similar
 * length and keeps one example's attention to itself.
 */
export interface ExampleBatch {
  inputs: Int32Array;
  targets: Int32Array;
  /** Tokens per row of this batch: its longest example's. */
  width: number;
}

/** Held-out examples, chosen per example by a seeded draw: `valFraction` of them, at least one, and at least one left to train. */
export function splitExamples(rows: SftRow[], valFraction: number, seed: number): { train: SftRow[]; val: SftRow[] } {
  const n = rows.length;
  const held = Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
  const order = shuffled(n, new Rng(mixSeed(seed, 0x5e1d)));
  const isVal = new Set(order.slice(0, held));
  return { train: rows.filter((_, i) => !isVal.has(i)), val: rows.filter((_, i) => isVal.has(i)) };
}

/** The order an epoch visits the training examples in: a seeded shuffle of (seed, epoch), so a resume sees the same batches. */
export function exampleOrder(count: number, seed: number, epoch: number): Int32Array {
  return Int32Array.from(shuffled(count, new Rng(mixSeed(seed, epoch, 0xe9a))));
}

/** Batch `cursor` of an epoch (wrapping around when the last is short). */
export function fillExampleBatch(rows: readonly SftRow[], order: Int32Array, cursor: number, batch: number): ExampleBatch {
  const picked = Array.from({ length: batch }, (_, b) => rows[order[(cursor * batch + b) % order.length]]);
  return exampleBatch(picked);
}

/** Rows padded to the longest: inputs are ids[0..n-1), targets the labels one to the right. */
export function exampleBatch(picked: readonly SftRow[]): ExampleBatch {
  const width = Math.max(...picked.map((r) => r.ids.length - 1));
  const inputs = new Int32Array(picked.length * width);
  const targets = new Int32Array(picked.length * width).fill(IGNORED);
  picked.forEach((r, b) => {
    inputs.set(r.ids.subarray(0, r.ids.length - 1), b * width);
    targets.set(r.labels.subarray(1), b * width);
  });
  return { inputs, targets, width };
}

/** The trained targets of rows, in order (what held-out loss is the mean over). */
export function trainedTargets(rows: readonly SftRow[]): Int32Array {
  const out: number[] = [];
  for (const r of rows) for (let i = 1; i < r.labels.length; i++) if (r.labels[i] !== IGNORED) out.push(r.labels[i]);
  return Int32Array.from(out);
}

function shuffled(n: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

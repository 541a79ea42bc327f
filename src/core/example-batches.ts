import { Rng, mixSeed } from './rng';
import { IGNORED, SftRow } from './sft-examples';
import { TokenReader, idCounts } from './prepared/token-file';

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

/** Examples read a row at a time, in memory or from prepared rows on disk (core/prepared/sft-rows.ts). */
export interface ExampleRows {
  readonly length: number;
  row(i: number): SftRow;
  /** Tokens in row i, without reading it. */
  size(i: number): number;
  /** Trained targets in row i (its labels past the first that are not IGNORED), when known without reading it. */
  targetCount?(i: number): number;
  /** What the trained targets of all rows but `excluded` add up to, when known without reading them all. */
  targetTotals?(excluded?: Int32Array): TargetTotals;
}

/**
 * How often each id occurs among rows' trained targets, and the characters they decode to, each row's
 * targets decoded on its own with any byte-order mark kept (undefined when some row's targets are not
 * whole UTF-8, so that the rows decoded one after another would differ).
 */
export interface TargetTotals {
  ids: Float64Array;
  chars?: Map<string, number>;
}

export function memoryRows(rows: readonly SftRow[]): ExampleRows {
  return { length: rows.length, row: (i) => rows[i], size: (i) => rows[i].ids.length };
}

export function asExampleRows(rows: readonly SftRow[] | ExampleRows): ExampleRows {
  return Array.isArray(rows) ? memoryRows(rows) : (rows as ExampleRows);
}

/** Rows `indices` of `rows`, in that order. */
export function rowsAt(rows: ExampleRows, indices: Int32Array): ExampleRows {
  const view: ExampleRows = { length: indices.length, row: (i) => rows.row(indices[i]), size: (i) => rows.size(indices[i]) };
  if (rows.targetCount) view.targetCount = (i) => rows.targetCount!(indices[i]);
  return view;
}

/** The first `n` rows (all when fewer). */
export function firstRows(rows: ExampleRows, n: number): ExampleRows {
  return rowsAt(
    rows,
    Int32Array.from({ length: Math.min(n, rows.length) }, (_, i) => i),
  );
}

/** Held-out examples, chosen per example by a seeded draw: `valFraction` of them, at least one, and at least one left to train. */
export function splitExamples(rows: SftRow[], valFraction: number, seed: number): { train: SftRow[]; val: SftRow[] } {
  const { train, val } = splitIndices(rows.length, valFraction, seed);
  return { train: Array.from(train, (i) => rows[i]), val: Array.from(val, (i) => rows[i]) };
}

/** splitExamples of rows read from disk: the same split, as views of the rows. */
export function splitExampleRows(rows: ExampleRows, valFraction: number, seed: number): { train: ExampleRows; val: ExampleRows } {
  const { train, val } = splitIndices(rows.length, valFraction, seed);
  const trainRows = rowsAt(rows, train);
  // The training rows are all but the held-out ones: their totals are the file's less the few held out.
  if (rows.targetTotals) trainRows.targetTotals = () => rows.targetTotals!(val);
  return { train: trainRows, val: rowsAt(rows, val) };
}

function splitIndices(n: number, valFraction: number, seed: number): { train: Int32Array; val: Int32Array } {
  const held = Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
  const order = shuffled(n, new Rng(mixSeed(seed, 0x5e1d)));
  const isVal = new Uint8Array(n);
  for (let k = 0; k < held; k++) isVal[order[k]] = 1;
  const train = new Int32Array(n - held);
  const val = new Int32Array(held);
  for (let i = 0, t = 0, v = 0; i < n; i++) {
    if (isVal[i]) val[v++] = i;
    else train[t++] = i;
  }
  return { train, val };
}

/** The order an epoch visits the training examples in: a seeded shuffle of (seed, epoch), so a resume sees the same batches. */
export function exampleOrder(count: number, seed: number, epoch: number): Int32Array {
  return shuffled(count, new Rng(mixSeed(seed, epoch, 0xe9a)));
}

/** Batch `cursor` of an epoch (wrapping around when the last is short). */
export function fillExampleBatch(rows: readonly SftRow[] | ExampleRows, order: Int32Array, cursor: number, batch: number): ExampleBatch {
  const from = asExampleRows(rows);
  const picked = Array.from({ length: batch }, (_, b) => from.row(order[(cursor * batch + b) % order.length]));
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
export function trainedTargets(rows: readonly SftRow[] | ExampleRows): Int32Array {
  const from = asExampleRows(rows);
  const out: number[] = [];
  for (let r = 0; r < from.length; r++) out.push(...targetsOf(from.row(r)));
  return Int32Array.from(out);
}

/** trainedTargets read a range at a time (a training split too large to hold its targets in memory). */
export function trainedTargetReader(rows: ExampleRows): TokenReader {
  // Where the targets of every TARGET_MARK_ROWS-th row start (one pass over the rows): a range is
  // read from the mark before it, so memory holds 8 bytes per TARGET_MARK_ROWS rows.
  const marks = new Float64Array(Math.ceil(rows.length / TARGET_MARK_ROWS) + 1);
  let total = 0;
  for (let r = 0; r < rows.length; r++) {
    if (r % TARGET_MARK_ROWS === 0) marks[r / TARGET_MARK_ROWS] = total;
    total += rows.targetCount?.(r) ?? targetsOf(rows.row(r)).length;
  }
  marks[marks.length - 1] = total;
  let out = new Int32Array(0);
  const reader: TokenReader = {
    length: total,
    view(start, end) {
      if (out.length < end - start) out = new Int32Array(end - start);
      let block = 0;
      while (block + 1 < marks.length - 1 && marks[block + 1] <= start) block++;
      let at = 0;
      for (let r = block * TARGET_MARK_ROWS, pos = marks[block]; pos < end; r++) {
        const targets = targetsOf(rows.row(r));
        const from = Math.max(0, start - pos);
        const n = Math.max(0, Math.min(targets.length, end - pos) - from);
        out.set(targets.subarray(from, from + n), at);
        at += n;
        pos += targets.length;
      }
      return out.subarray(0, end - start);
    },
  };
  if (rows.targetTotals) {
    const totals = rows.targetTotals();
    const { view } = reader;
    reader.rangeIdCounts = (start, end, vocabSize) =>
      start === 0 && end === total && totals.ids.length === vocabSize
        ? Float64Array.from(totals.ids)
        : idCounts({ length: end - start, view: (a, b) => view(start + a, start + b) }, vocabSize);
    if (totals.chars) reader.charCounts = () => new Map(totals.chars);
  }
  return reader;
}

const TARGET_MARK_ROWS = 1024;

/** A row's trained targets: its labels past the first that are not IGNORED. */
export function targetsOf(row: SftRow): Int32Array {
  const { labels } = row;
  let n = 0;
  for (let i = 1; i < labels.length; i++) if (labels[i] !== IGNORED) n++;
  const out = new Int32Array(n);
  for (let i = 1, at = 0; i < labels.length; i++) if (labels[i] !== IGNORED) out[at++] = labels[i];
  return out;
}

function shuffled(n: number, rng: Rng): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

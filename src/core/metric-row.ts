import { isObject } from './json';

/**
 * What a loss means, measured on the same held-out text: the numbers a model has to beat, and the
 * sizes that convert nats per token into bits per character or per UTF-8 byte. Written to
 * metrics.jsonl as `{"type": "baselines", ...}` when a run starts.
 */
export interface Baselines {
  /** ln |V| nats per token: a model that spreads probability evenly (≈ one at initialisation). */
  uniform_loss: number;
  /** The freshly initialised model's validation loss, nats per token (absent for a resumed run). */
  init_val_loss?: number;
  /** A model that knows only how often each character occurs in the training text (add-one smoothed). */
  unigram_bits_per_char: number;
  /** gzip -9 of the held-out text, bits per UTF-8 byte ("language modelling is compression"). */
  gzip_bits_per_byte: number;
  /** The held-out text scored: predicted tokens, their Unicode code points and UTF-8 bytes. */
  val_tokens: number;
  val_chars: number;
  val_bytes: number;
}

/** One point of a run's curves (a logged step or evaluation), as the loss chart draws it. */
export interface MetricRow {
  step: number;
  epoch?: number;
  loss?: number;
  val_loss?: number;
  /** Fine-tuning: the loss on the base model's own held-out text (forgetting). */
  base_val_loss?: number;
  val_bits_per_char?: number;
  val_bits_per_byte?: number;
  lr?: number;
  tokens_per_s?: number;
  elapsed_s?: number;
}

const finiteOrAbsent = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v));

export function isMetricRow(r: unknown): r is MetricRow {
  return (
    isObject(r) &&
    typeof r.step === 'number' &&
    Number.isFinite(r.step) &&
    ['epoch', 'loss', 'val_loss', 'base_val_loss', 'val_bits_per_char', 'val_bits_per_byte', 'lr', 'tokens_per_s', 'elapsed_s'].every((k) =>
      finiteOrAbsent(r[k]),
    )
  );
}

/** The chart row of a metrics.jsonl record (a step or an eval event), or undefined if it is not one. */
export function toMetricRow(m: Record<string, unknown>): MetricRow | undefined {
  const row: MetricRow = { step: m.step as number };
  if (m.type === 'eval') {
    row.val_loss = m.val_loss as number;
    for (const k of ['base_val_loss', 'val_bits_per_char', 'val_bits_per_byte'] as const)
      if (typeof m[k] === 'number') row[k] = m[k] as number;
  } else
    for (const k of ['epoch', 'loss', 'lr', 'tokens_per_s', 'elapsed_s'] as const) if (typeof m[k] === 'number') row[k] = m[k] as number;
  return isMetricRow(row) ? row : undefined;
}

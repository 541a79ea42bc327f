import { isObject } from './json';

/** One point of a run's curves (a logged step or evaluation), as the loss chart draws it. */
export interface MetricRow {
  step: number;
  epoch?: number;
  loss?: number;
  val_loss?: number;
  /** Fine-tuning: the loss on the base model's own held-out text (forgetting). */
  base_val_loss?: number;
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
    ['epoch', 'loss', 'val_loss', 'base_val_loss', 'lr', 'tokens_per_s', 'elapsed_s'].every((k) => finiteOrAbsent(r[k]))
  );
}

/** The chart row of a metrics.jsonl record (a step or an eval event), or undefined if it is not one. */
export function toMetricRow(m: Record<string, unknown>): MetricRow | undefined {
  const row: MetricRow = { step: m.step as number };
  if (m.type === 'eval') {
    row.val_loss = m.val_loss as number;
    if (m.base_val_loss !== undefined) row.base_val_loss = m.base_val_loss as number;
  } else for (const k of ['epoch', 'loss', 'lr', 'tokens_per_s', 'elapsed_s'] as const) if (typeof m[k] === 'number') row[k] = m[k] as number;
  return isMetricRow(row) ? row : undefined;
}

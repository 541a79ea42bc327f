import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { listCheckpoints } from '../core/checkpoint';
import { readMetrics } from '../core/run-dir';
import { MetricRow, isMetricRow } from './webview/protocol';

export interface RunInfo {
  dir: string;
  name: string;
  status: string;
  corpus?: string;
  valLoss?: number;
  step?: number;
  checkpoints: { dir: string; name: string; step: number; valLoss?: number }[];
}

/** The runs under `root`, newest first; folders without a readable run.json are skipped. */
export function listRuns(root: string): RunInfo[] {
  if (!existsSync(root)) return [];
  const runs: RunInfo[] = [];
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'run.json'))) continue;
    runs.push(readRun(dir));
  }
  return runs.sort((a, b) => b.name.localeCompare(a.name));
}

export function readRun(dir: string): RunInfo {
  let run: Record<string, unknown> = {};
  try {
    run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  } catch {
    // shown as status "unreadable" below
  }
  const corpus = (run.corpus as { path?: unknown } | undefined)?.path;
  return {
    dir,
    name: basename(dir),
    status: typeof run.status === 'string' ? run.status : 'unreadable',
    corpus: typeof corpus === 'string' ? corpus : undefined,
    valLoss: typeof run.val_loss === 'number' ? run.val_loss : undefined,
    step: typeof run.step === 'number' ? run.step : undefined,
    checkpoints: listCheckpoints(dir).map((c) => ({ dir: c.dir, name: basename(c.dir), step: c.step, valLoss: checkpointValLoss(c.dir) })),
  };
}

function checkpointValLoss(dir: string): number | undefined {
  try {
    const v = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')).val_loss;
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Chart rows of a run: one per logged step or evaluation. */
export function metricRows(runDir: string): MetricRow[] {
  return readMetrics(runDir).map(toRow).filter((r): r is MetricRow => r !== undefined);
}

export function toRow(m: Record<string, unknown>): MetricRow | undefined {
  const row: MetricRow = { step: m.step as number };
  if (m.type === 'eval') row.val_loss = m.val_loss as number;
  else for (const k of ['epoch', 'loss', 'lr', 'tokens_per_s', 'elapsed_s'] as const) if (typeof m[k] === 'number') row[k] = m[k] as number;
  return isMetricRow(row) ? row : undefined;
}

import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write';
import { pathExists, readRegularFile, readRegularFileAsync } from './safe-fs';
import { MetricRow, toMetricRow } from './metric-row';
import type { Baselines } from './metric-row';

// metrics.jsonl: one JSON object per logged step or evaluation (docs/DESIGN.md §3).

/** Appends one JSON line; a single write, so a crash leaves at most one partial last line. */
export function appendMetrics(runDir: string, record: object): void {
  appendFileSync(join(runDir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
}

/** Far more than a run logs (a line every logged step, ~150 bytes), far less than fills memory. */
export const MAX_METRICS_BYTES = 256 * 1024 * 1024;

/**
 * The metrics of a run (none yet without the file); a partial or damaged line (from a crash) is
 * skipped. Anything but a regular file within MAX_METRICS_BYTES is refused.
 */
export function readMetrics(runDir: string): Record<string, unknown>[] {
  const path = join(runDir, 'metrics.jsonl');
  return existsSync(path) ? parseMetrics(readRegularFile(path, MAX_METRICS_BYTES)) : [];
}

/** readMetrics without blocking the thread (the extension host reads this way). */
export async function readMetricsAsync(runDir: string): Promise<Record<string, unknown>[]> {
  const path = join(runDir, 'metrics.jsonl');
  return (await pathExists(path)) ? parseMetrics(await readRegularFileAsync(path, MAX_METRICS_BYTES)) : [];
}

function parseMetrics(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line cut short by a crash
    }
  }
  return out;
}

/** Drops metrics logged after `step` (a resumed run logs those steps again). */
export function truncateMetrics(runDir: string, step: number): void {
  const kept = readMetrics(runDir).filter((r) => typeof r.step !== 'number' || r.step <= step);
  writeFileAtomic(join(runDir, 'metrics.jsonl'), kept.map((r) => JSON.stringify(r) + '\n').join(''));
}

/** Chart rows of metrics: one per logged step or evaluation. */
export function metricRows(metrics: Record<string, unknown>[]): MetricRow[] {
  return metrics.map(toMetricRow).filter((r): r is MetricRow => r !== undefined);
}

/** The baselines a run recorded when it started (undefined for runs from before they were). */
export function metricBaselines(metrics: Record<string, unknown>[]): Baselines | undefined {
  const b = metrics.find((m) => m.type === 'baselines');
  if (!b) return undefined;
  const { type: _type, ...rest } = b;
  return rest as unknown as Baselines;
}

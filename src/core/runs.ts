import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { listCheckpoints } from './checkpoint';
import { RunStatus, effectiveStatus, readRunJson } from './run-json';

export interface RunInfo {
  dir: string;
  name: string;
  status: RunStatus | 'interrupted' | 'unreadable';
  corpus?: string;
  valLoss?: number;
  step?: number;
  checkpoints: { dir: string; name: string; step: number; valLoss?: number }[];
}

/** The runs under `root`, newest first; folders without run.json are skipped. */
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
  const checkpoints = listCheckpoints(dir).map((c) => ({ dir: c.dir, name: basename(c.dir), step: c.step, valLoss: checkpointValLoss(c.dir) }));
  try {
    const run = readRunJson(dir);
    return { dir, name: basename(dir), status: effectiveStatus(run), corpus: run.corpus.path, valLoss: run.val_loss, step: run.step, checkpoints };
  } catch {
    return { dir, name: basename(dir), status: 'unreadable', checkpoints };
  }
}

function checkpointValLoss(dir: string): number | undefined {
  try {
    const v = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')).val_loss;
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { train, TrainJob, TrainResult } from '../train/trainer';
import { UserError } from '../../core/errors';
import { createRunDir } from '../../core/run-dir';
import { updateRunJson } from '../../core/run-json';

/** The run folder a new run writes to: -o's (new or empty), or a timestamped one under runsRoot. */
export function openRunDir(req: { runDir?: string; runsRoot?: string; corpusPath: string }): string {
  if (!req.runDir) return createRunDir(req.runsRoot ?? join(process.cwd(), '.corpus-lab', 'runs'), req.corpusPath);
  const dir = resolve(req.runDir);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UserError('{0} is not empty: choose a new folder, or pass --resume {1} to continue the run in it', dir, dir);
  }
  return createRunDir(dirname(dir), req.corpusPath, dir);
}

/** Trains and records the outcome in run.json: completed, cancelled, or failed with the reason. */
export async function trainInRun(runDir: string, job: TrainJob): Promise<TrainResult> {
  try {
    const result = await train(job);
    updateRunJson(runDir, { status: result.reason, last_checkpoint: result.checkpoint, step: result.step, val_loss: result.valLoss });
    return result;
  } catch (e) {
    try {
      updateRunJson(runDir, { status: 'failed', error: e instanceof Error ? e.message : String(e) });
    } catch {
      // The disk that just failed a checkpoint may fail this too; the first error is the one to report.
    }
    throw e;
  }
}

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { abandonDirAtomic, beginDirAtomic, commitDirAtomic, explainWriteError } from '../atomic-write';
import { TrainPlan } from '../train-options';

/** Where the PyTorch scripts ship: next to the bundle (dist/torch/) or in the repository (torch/). */
export function scriptPath(name: 'train.py' | 'train_peft.py'): string {
  for (const candidate of [
    join(__dirname, 'torch', name),
    join(__dirname, '..', 'torch', name),
    join(__dirname, '..', '..', '..', 'torch', name),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`internal: torch/${name} is missing from this installation`);
}

/**
 * Fills a temporary sibling of `dir` and renames it into place: the folder appears whole or not at
 * all. `dir` may be an empty folder (checkOutputPath lets only that through); it is kept on failure.
 */
export function writeNewFolder(dir: string, fill: (temp: string) => void): void {
  const wasEmptyFolder = existsSync(dir);
  try {
    if (wasEmptyFolder) rmdirSync(dir);
    const temp = beginDirAtomic(dir);
    try {
      fill(temp);
    } catch (e) {
      abandonDirAtomic(temp);
      throw e;
    }
    commitDirAtomic(temp, dir);
  } catch (e) {
    if (wasEmptyFolder) mkdirSync(dir, { recursive: true });
    throw explainWriteError(e, dir);
  }
}

/** plan.json's description of the learning-rate schedule (core/lr-schedule.ts). */
export function learningRateSchedule(plan: TrainPlan) {
  return {
    kind: 'linear warm-up, then cosine to minLr' as const,
    lr: plan.options.lr,
    minLr: plan.options.minLr,
    warmupSteps: plan.warmupSteps,
    totalSteps: plan.totalSteps,
  };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { train, TrainJob, TrainResult } from '../train/trainer';
import { UserError } from '../../core/errors';
import { createRunDir } from '../../core/run-dir';
import { checkOutputPath } from '../../core/output-path';
import { ExperimentArm, RunJson, effectiveStatus, newRunJson, readRunJson, updateRunJson, writeRunJson } from '../../core/run-json';
import { writeFileAtomic } from '../../core/atomic-write';
import { truncateMetrics } from '../../core/metrics';
import type { FinetuneRecord } from '../../core/finetune';
import type { TrainPlan } from '../../core/train-options';

type RunRequest = { runDir?: string; runsRoot?: string; corpusPath: string; experiment?: ExperimentArm };

/** The run folder a new run writes to: -o's (new or empty), or a timestamped one under runsRoot. */
export function openRunDir(req: RunRequest): string {
  if (!req.runDir) return createRunDir(req.runsRoot ?? join(process.cwd(), '.corpus-lab', 'runs'), req.corpusPath);
  const dir = resolve(req.runDir);
  if (existsSync(join(dir, 'run.json')))
    throw new UserError('{0} is not empty: choose a new folder, or pass --resume {1} to continue the run in it', dir, dir);
  return createRunDir(dirname(dir), req.corpusPath, checkOutputPath(dir, 'empty-folder'));
}

/** A new run: its folder, tokenizer.json and run.json, then the training in it. */
export function startRun(
  req: RunRequest,
  corpus: Pick<RunJson['corpus'], 'bytes' | 'sha256' | 'clean'>,
  job: Omit<TrainJob, 'runDir'>,
  finetune?: FinetuneRecord,
): Promise<TrainResult> {
  const runDir = openRunDir(req);
  writeFileAtomic(join(runDir, 'tokenizer.json'), job.tokenizer.toJSON());
  writeRunJson(
    runDir,
    newRunJson({
      corpusPath: req.corpusPath,
      corpus,
      tokens: job.tokens.length,
      tokenizer: job.tokenizer.summary(),
      engine: job.engine,
      trainingThreads: job.threads,
      plan: job.plan,
      finetune,
      experiment: req.experiment,
    }),
  );
  return trainInRun({ runDir, ...job });
}

/** The run.json of a run `--resume` continues, once it is sure no other process trains it and -o (if given) names it. */
export function resumableRun(runDir: string, asked: string | undefined): RunJson {
  if (asked && resolve(asked) !== runDir)
    throw new UserError(
      '--resume continues the run in {0}, but -o names {1}: leave out -o, or name the same folder',
      runDir,
      resolve(asked),
    );
  const run = readRunJson(runDir);
  if (effectiveStatus(run) === 'training' && run.trainer?.pid !== process.pid) {
    throw new UserError(
      '{0} is being trained right now (process {1}): wait for it to finish or stop it first',
      runDir,
      String(run.trainer?.pid),
    );
  }
  return run;
}

/** Refuses to resume `checkpoint` at `step` when the plan has no steps left after it. */
export function checkStepsLeft(checkpoint: string, step: number, plan: TrainPlan): void {
  if (plan.totalSteps <= step)
    throw new UserError(
      '{0} is already at step {1} of {2}: pass a larger --max-steps or --epochs to train further',
      checkpoint,
      step,
      plan.totalSteps,
    );
}

/**
 * Trains and records the outcome in run.json: completed, cancelled, or failed with the reason.
 * A resume (`before`: its run.json when it began) that fails before saving a step changed nothing
 * the record says: run.json is put back as it was, with the failed attempt noted, and the metrics
 * it logged are dropped.
 */
export async function trainInRun(job: TrainJob, before?: RunJson): Promise<TrainResult> {
  const { runDir } = job;
  let saved = false;
  const emit: TrainJob['emit'] = (e) => {
    if (e.type === 'checkpoint') saved = true;
    job.emit(e);
  };
  try {
    const result = await train({ ...job, emit });
    updateRunJson(runDir, { status: result.reason, last_checkpoint: result.checkpoint, step: result.step, val_loss: result.valLoss });
    return result;
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    try {
      if (before && job.resume && !saved) {
        truncateMetrics(runDir, job.resume.state.step);
        writeRunJson(runDir, { ...before, failed_resume: { at: new Date().toISOString(), error } });
      } else updateRunJson(runDir, { status: 'failed', error });
    } catch {
      // The disk that just failed a checkpoint may fail this too; the first error is the one to report.
    }
    throw e;
  }
}

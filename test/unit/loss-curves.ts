import assert from 'node:assert/strict';
import { FinetuneRequest, runFinetuneJob } from '../../src/worker/jobs/finetune-job';
import { TrainRequest, runTrainJob } from '../../src/worker/jobs/train-job';
import { TrainEvent } from '../../src/core/train-events';

/** The loss of each step event, by step. */
export const stepLosses = (events: Record<string, unknown>[]) =>
  new Map(events.filter((e) => e.type === 'step').map((e) => [e.step as number, e.loss as number]));

/** Each of `steps` has a loss in both curves, within `tolerance`. */
export function assertClose(
  actual: Map<number, number>,
  expected: Map<number, number>,
  steps: number[],
  tolerance: number,
  what: string,
): void {
  for (const s of steps) {
    const [a, e] = [actual.get(s), expected.get(s)];
    assert.ok(a !== undefined && e !== undefined, `${what}: no loss at step ${s}`);
    assert.ok(Math.abs(a - e) < tolerance, `${what}: step ${s} loss ${a} vs ${e}`);
  }
}

type Job = (emit: (e: TrainEvent) => void, shouldStop: () => boolean) => Promise<unknown>;

/** A job run to its end, or stopped after `stopAfter` steps (its checkpoint is then mid-run): the losses by step. */
async function lossesOf(job: Job, stopAfter?: number): Promise<Map<number, number>> {
  let step = 0;
  const losses = new Map<number, number>();
  await job(
    (e) => {
      if (e.type !== 'step') return;
      step = e.step;
      losses.set(e.step, e.loss);
    },
    () => stopAfter !== undefined && step >= stopAfter,
  );
  return losses;
}

export const trainLosses = (req: TrainRequest, stopAfter?: number) => lossesOf((emit, stop) => runTrainJob(req, emit, stop), stopAfter);

export const finetuneLosses = (req: FinetuneRequest, stopAfter?: number) =>
  lossesOf((emit, stop) => runFinetuneJob(req, emit, stop), stopAfter);

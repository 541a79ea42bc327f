import { ModelConfig } from './model-config';
import { parameterCount } from './weight-table';
import type { TrainPlan } from './train-options';
import { lossChunkRows } from './loss-chunk';

export interface Estimate {
  params: number;
  /** Those the optimizer updates: all, or with LoRA the adapters'. */
  trainableParams: number;
  /** Training FLOPs per token: forward + backward (PaLM appendix B / nanoGPT's estimate_mfu). */
  flopsPerToken: number;
  /** Bytes held while training: weights, gradients, two AdamW moments, activations kept for backward. */
  trainingBytes: number;
  /** Bytes held by the weights alone (what inference needs, plus a small KV cache). */
  weightBytes: number;
  tokensPerStep: number;
  stepsPerEpoch: number;
  /** Present when a few steps were timed on this machine. */
  secondsPerStep?: number;
  secondsPerEpoch?: number;
}

const FLOAT_BYTES = 4;

/**
 * `adapterParams`: LoRA on a frozen base, whose optimizer updates only these; a frozen weight needs
 * no gradient and no AdamW moments, only itself, in `frozenBytes` each (2 when held as BF16).
 */
export function estimate(
  config: ModelConfig,
  batch: number,
  stepsPerEpoch: number,
  measuredSecondsPerStep?: number,
  adapterParams?: number,
  frozenBytes = FLOAT_BYTES,
): Estimate {
  const params = parameterCount(config) + (adapterParams ?? 0);
  const trainableParams = adapterParams ?? params;
  const { layers: l, width: c, context: t, heads: h, vocabSize: v } = config;
  const flopsPerToken = 6 * params + 12 * l * c * t;
  // Activations saved for backward, per token and layer: ~34·width floats plus 5·heads·context for
  // attention maps (Korthikanti et al. 2022, fp32, no recomputation); logits and their softmax twice,
  // for one chunk of rows at a time (core/loss-chunk.ts).
  const rows = batch * t;
  const activationFloats = rows * l * (34 * c + 5 * h * t) + 3 * Math.min(rows, lossChunkRows(v)) * v;
  const frozen = adapterParams === undefined ? 0 : params - adapterParams;
  const trainingBytes = frozenBytes * frozen + FLOAT_BYTES * (params - frozen + 3 * trainableParams + activationFloats);
  const e: Estimate = {
    params,
    trainableParams,
    flopsPerToken,
    trainingBytes,
    weightBytes: FLOAT_BYTES * params,
    tokensPerStep: batch * t,
    stepsPerEpoch,
  };
  if (measuredSecondsPerStep !== undefined) {
    e.secondsPerStep = measuredSecondsPerStep;
    e.secondsPerEpoch = measuredSecondsPerStep * stepsPerEpoch;
  }
  return e;
}

/** What a run spends besides its steps, each measured on this machine (seconds). */
export interface RunOverheads {
  /** One evaluation: the held-out windows' forward passes and the sample written with it. */
  evaluation: number;
  /** Writing one checkpoint. */
  checkpoint: number;
}

/**
 * Seconds a run of `plan` takes: its steps; an evaluation every evalEvery steps and at the end,
 * one before the first step (the baselines'), and one for each checkpoint off those steps (a
 * checkpoint records its validation loss); a checkpoint at the end of each epoch once
 * `checkpointEvery` steps have passed since the last, and at the end.
 */
export function runSeconds(
  plan: Pick<TrainPlan, 'totalSteps' | 'stepsPerEpoch' | 'evalEvery'>,
  secondsPerStep: number,
  overheads: RunOverheads,
  checkpointEvery: number,
): number {
  const { totalSteps: steps, evalEvery } = plan;
  const every = Math.max(1, Math.ceil(checkpointEvery / plan.stepsPerEpoch)) * plan.stepsPerEpoch;
  const checkpoints = Math.floor(steps / every) + (steps % every ? 1 : 0);
  // Epoch-end checkpoints that fall on no evaluation step (the last step always is one).
  const both = (every / gcd(every, evalEvery)) * evalEvery;
  const offEval = Math.floor(steps / every) - Math.floor(steps / both) - (steps % every === 0 && steps % both !== 0 ? 1 : 0);
  const evaluations = Math.ceil(steps / evalEvery) + 1 + offEval;
  return steps * secondsPerStep + evaluations * overheads.evaluation + checkpoints * overheads.checkpoint;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

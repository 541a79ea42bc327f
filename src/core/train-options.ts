import { Message, UserError, message } from './errors';
import { ModelConfig } from './model-config';

/** How to train: everything but the network's shape (model-config.ts) and the corpus. */
export interface TrainOptions {
  batch: number;
  /** Tokens per training window, when shorter than the model's context (fine-tuning a big base). */
  context?: number;
  /** Stop after this many passes over the training split… */
  epochs?: number;
  /** …or after this many optimizer steps, whichever comes first. */
  maxSteps?: number;
  lr: number;
  minLr: number;
  warmupSteps?: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  gradClip: number;
  evalEvery?: number;
  /** Batches of held-out windows per evaluation (the same windows every time). */
  evalBatches: number;
  seed: number;
  /** How many of the newest checkpoints to keep (the best by validation loss is always kept). */
  keepCheckpoints: number;
  /** Fraction of tokens held out, from the end of the corpus. */
  valFraction: number;
}

// nanoGPT's shakespeare-char CPU recipe (lr 1e-3 → 1e-4, β2 0.99, weight decay 0.1, clip 1.0).
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  batch: 12,
  lr: 1e-3,
  minLr: 1e-4,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.99,
  gradClip: 1.0,
  evalBatches: 20,
  seed: 1337,
  keepCheckpoints: 3,
  valFraction: 0.1,
};

/** The options a user may set; the rest are the recipe's. */
export const TRAIN_OPTION_KEYS = [
  'batch',
  'epochs',
  'maxSteps',
  'lr',
  'evalEvery',
  'seed',
] as const satisfies readonly (keyof TrainOptions)[];
export type TrainOptionKey = (typeof TRAIN_OPTION_KEYS)[number];

/**
 * Without --epochs or --max-steps, a run trains on this many tokens per square root of its
 * training tokens, in whole epochs: where validation stopped improving for the tiny preset on
 * texts of 3.3K, 17K and 135K tokens (README, "How long a default run trains"). A small text is
 * passed over many times before it is memorised, a large one few times.
 */
export const DEFAULT_TOKENS_PER_ROOT = 2400;

/** The longest step budget a run may have. */
export const MAX_STEPS = 100_000_000;

export function validateTrainOptions(o: TrainOptions): TrainOptions {
  const int = (name: Message, v: number | undefined, min: number, max: number) => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new UserError('{0} must be a whole number from {1} to {2} (got {3})', name, min, max, v);
    }
  };
  const real = (name: Message, v: number, min: number, max: number, exclusiveMin = false) => {
    if (!Number.isFinite(v) || v > max || (exclusiveMin ? v <= min : v < min)) {
      const bounded = max < Infinity;
      if (exclusiveMin && bounded) throw new UserError('{0} must be a number above {1} up to {2} (got {3})', name, min, max, v);
      if (exclusiveMin) throw new UserError('{0} must be a number above {1} (got {2})', name, min, v);
      if (bounded) throw new UserError('{0} must be a number from {1} up to {2} (got {3})', name, min, max, v);
      throw new UserError('{0} must be a number from {1} (got {2})', name, min, v);
    }
  };
  int(message('batch'), o.batch, 1, 4096);
  int(message('epochs'), o.epochs, 1, 1_000_000);
  int(message('max steps'), o.maxSteps, 1, MAX_STEPS);
  int(message('warmup steps'), o.warmupSteps, 0, 100_000_000);
  int(message('eval every'), o.evalEvery, 1, 100_000_000);
  int(message('eval batches'), o.evalBatches, 1, 100_000);
  int(message('seed'), o.seed, 0, 2 ** 32 - 1);
  int(message('keep checkpoints'), o.keepCheckpoints, 1, 1000);
  real(message('learning rate'), o.lr, 0, 10_000, true);
  real(message('minimum learning rate'), o.minLr, 0, o.lr);
  real(message('weight decay'), o.weightDecay, 0, 10);
  real(message('beta1'), o.beta1, 0, 0.999999);
  real(message('beta2'), o.beta2, 0, 0.999999);
  real(message('gradient clip'), o.gradClip, 0, Infinity, true);
  real(message('validation fraction'), o.valFraction, 0, 0.5, true);
  return o;
}

/** What a run will do, fixed at its start and stored with it so a resume repeats it exactly. */
export interface TrainPlan {
  model: ModelConfig;
  options: TrainOptions;
  trainTokens: number;
  valTokens: number;
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
  evalEvery: number;
  /** A run on examples (JSON Lines): training examples, each its own row. */
  examples?: number;
}

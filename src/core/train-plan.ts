import { UserError } from './errors';
import { CleanOptions, cleanRuleNames } from './clean';
import { ModelConfig } from './model-config';
import { stepsPerEpoch } from './batches';
import { DEFAULT_TOKENS_PER_ROOT, TrainOptions, TrainPlan } from './train-options';

/**
 * Fixes the split, epoch length, step budget, warm-up and evaluation interval of a run. `heldOut`:
 * the last tokens held out when the caller has chosen them (a folder's documents, each its part).
 * `cleaned`: the text was cleaned as it was prepared (train --clean), so a text too short says so.
 */
export function makeTrainPlan(
  tokenCount: number,
  model: ModelConfig,
  options: TrainOptions,
  heldOut?: number,
  cleaned?: { path: string; clean: CleanOptions },
): TrainPlan {
  const window = trainingWindow(model, options);
  const need = window + 1;
  const valTokens = Math.max(need, heldOut ?? Math.round(tokenCount * options.valFraction));
  const trainTokens = tokenCount - valTokens;
  if (trainTokens < need) throw tooFewTokens(tokenCount, window, options.valFraction, cleaned);
  const perEpoch = stepsPerEpoch(trainTokens, window, options.batch);
  const epochs = defaultEpochs(trainTokens, perEpoch * window * options.batch);
  return { model, options, trainTokens, valTokens, ...stepBudget(options, perEpoch, epochs) };
}

function tooFewTokens(
  tokenCount: number,
  window: number,
  valFraction: number,
  cleaned: { path: string; clean: CleanOptions } | undefined,
): UserError {
  const need = window + 1;
  if (cleaned) {
    const rules = cleanRuleNames(cleaned.clean).join(', ');
    if (tokenCount === 0)
      return rules
        ? new UserError('{0} is empty once cleaned with the rules {1}: train without --clean or with fewer rules', cleaned.path, rules)
        : new UserError('{0} is empty once cleaned: train without --clean', cleaned.path);
    return rules
      ? new UserError(
          '{0} has {1} tokens once cleaned with the rules {2}, too few for context {3}: training and validation each need at least {4}; train without --clean or with fewer rules',
          cleaned.path,
          tokenCount,
          rules,
          window,
          need,
        )
      : new UserError(
          '{0} has {1} tokens once cleaned, too few for context {2}: training and validation each need at least {3}; train without --clean',
          cleaned.path,
          tokenCount,
          window,
          need,
        );
  }
  const fits = largestContextThatFits(tokenCount, valFraction);
  return fits >= 2
    ? new UserError(
        'the corpus has {0} tokens, too few for context {1}: training and validation each need at least {2} tokens; use --context {3} or a longer text',
        tokenCount,
        window,
        need,
        fits,
      )
    : new UserError(
        'the corpus has {0} tokens, too few for context {1}: training and validation each need at least {2} tokens; use a longer text',
        tokenCount,
        window,
        need,
      );
}

/**
 * TRL's default length of a supervised fine-tuning run (SFTConfig's num_train_epochs): a few
 * passes over question/answer pairs teach the answers without reciting them.
 */
export const EXAMPLE_EPOCHS = 3;

/** The plan of a run on examples (one per row): an epoch visits each training example once. */
export function makeExamplePlan(
  split: { trainExamples: number; trainTokens: number; valTokens: number },
  model: ModelConfig,
  options: TrainOptions,
): TrainPlan {
  trainingWindow(model, options);
  const perEpoch = Math.max(1, Math.ceil(split.trainExamples / options.batch));
  const { trainTokens, valTokens } = split;
  return { model, options, trainTokens, valTokens, ...stepBudget(options, perEpoch, EXAMPLE_EPOCHS), examples: split.trainExamples };
}

function stepBudget(
  options: TrainOptions,
  perEpoch: number,
  defaultEpochCount: number,
): Pick<TrainPlan, 'stepsPerEpoch' | 'totalSteps' | 'warmupSteps' | 'evalEvery'> {
  let totalSteps: number;
  if (options.maxSteps !== undefined && options.epochs !== undefined) totalSteps = Math.min(options.maxSteps, options.epochs * perEpoch);
  else if (options.maxSteps !== undefined) totalSteps = options.maxSteps;
  else if (options.epochs !== undefined) totalSteps = options.epochs * perEpoch;
  else totalSteps = defaultEpochCount * perEpoch;
  const warmupSteps = options.warmupSteps ?? Math.min(100, Math.floor(totalSteps / 10));
  const evalEvery = options.evalEvery ?? Math.max(1, Math.min(250, Math.round(totalSteps / 20)));
  return { stepsPerEpoch: perEpoch, totalSteps, warmupSteps, evalEvery };
}

/** Whole epochs of a run without a length: about DEFAULT_TOKENS_PER_ROOT × √(training tokens) tokens seen, at least one epoch. */
export function defaultEpochs(trainTokens: number, tokensPerEpoch: number): number {
  return Math.max(1, Math.round((DEFAULT_TOKENS_PER_ROOT * Math.sqrt(trainTokens)) / tokensPerEpoch));
}

/** Tokens per training window: the model's context, or a shorter window the options name. */
export function trainingWindow(model: ModelConfig, options: Pick<TrainOptions, 'context'>): number {
  const window = options.context ?? model.context;
  if (!Number.isInteger(window) || window < 1 || window > model.context) {
    throw new UserError("--context must be a whole number from 1 to the model's context, {0} (got {1})", model.context, window);
  }
  return window;
}

/** The largest power-of-two context for which both splits hold a window and its next token. */
export function largestContextThatFits(tokenCount: number, valFraction: number): number {
  let best = 0;
  for (let c = 1; c <= 8192; c *= 2) {
    const val = Math.max(c + 1, Math.round(tokenCount * valFraction));
    if (tokenCount - val >= c + 1) best = c;
  }
  return best;
}

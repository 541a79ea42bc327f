import type { ExperimentArm, RunJson } from './run-json';
import { Arch, MODEL_OPTION_KEYS, ModelConfig, ModelOptionKey, NormKind } from './model-config';
import { UserError } from './errors';
import type { TrainOptionKey, TrainOptions } from './train-options';
import type { TokenizerKind } from './tokenizer';
import { settingsOf } from './compare-runs';
import { CleanOptions, cleanOptionsOf } from './clean';

// One-click experiments on a finished run: the same run with one thing changed.

/** What the training job needs to train a run again: its shape, options, tokenizer and corpus. */
export type RepeatRequest = Partial<Pick<ModelConfig, ModelOptionKey>> &
  Partial<Pick<TrainOptions, TrainOptionKey>> & {
    corpusPath: string;
    tokenizer: TokenizerKind;
    vocabSize?: number;
    arch?: Arch;
    clean?: CleanOptions;
  };

/** What an experiment changes in the run it repeats: the norm, the blocks, or the seed. */
export interface ExperimentChange {
  norm?: NormKind;
  arch?: Arch;
  seed?: number;
}

/**
 * The request that trains `run` again with `change` applied: same corpus, tokenizer, shape,
 * batch, learning rate, seed, steps, evaluation interval and cleaning (the rest are the recipe's defaults,
 * as they were for the run). Llama blocks, and a change of blocks, leave the norm and biases to
 * the blocks (withArch): the run's own belong to the blocks it had.
 */
export function repeatRequest(run: RunJson, change: ExperimentChange = {}): RepeatRequest {
  const { model, options } = run.plan;
  const arch = change.arch ?? archOf(model);
  const keys = arch === 'llama' || change.arch ? MODEL_OPTION_KEYS.filter((k) => k !== 'norm' && k !== 'bias') : MODEL_OPTION_KEYS;
  const shape = Object.fromEntries(keys.map((k) => [k, model[k]])) as Partial<Pick<ModelConfig, ModelOptionKey>>;
  return {
    ...shape,
    ...(arch === 'llama' || change.arch ? { arch } : {}),
    corpusPath: run.corpus.path,
    tokenizer: run.tokenizer.kind,
    // A char vocabulary is the corpus's characters; a BPE one is trained to this size again.
    vocabSize: run.tokenizer.kind === 'bpe' ? run.tokenizer.vocabSize : undefined,
    batch: options.batch,
    lr: options.lr,
    seed: options.seed,
    maxSteps: run.plan.totalSteps,
    evalEvery: run.plan.evalEvery,
    // Cleaned as the run's text was, when it was.
    ...(run.corpus.clean ? { clean: cleanOptionsOf(run.corpus.clean) } : {}),
    ...change,
  };
}

/** What run.json records of a run `repeatRequest` trains from the run in `runDir` with `change`. */
export function experimentArm(runDir: string, change: ExperimentChange): ExperimentArm {
  return { kind: change.arch !== undefined ? 'arch' : change.norm !== undefined ? 'norm' : 'seed', of: runDir };
}

/** The blocks a model is built of: Llama's when it has them (a run trained with --arch llama), else GPT-2's. */
export function archOf(model: Pick<ModelConfig, 'llama'>): Arch {
  return model.llama ? 'llama' : 'gpt2';
}

/**
 * The other normalisation: the LayerNorm vs Dynamic Tanh experiment flips only this. It is an
 * experiment on GPT-2 blocks; Llama blocks always normalise with RMSNorm.
 */
export function otherNorm(model: Pick<ModelConfig, 'norm' | 'llama'>): NormKind {
  if (model.llama) {
    throw new UserError(
      'LayerNorm vs DyT is an experiment on GPT-2 blocks: Llama blocks normalise with RMSNorm (try GPT-2 block vs Llama block)',
    );
  }
  return model.norm === 'layernorm' ? 'dyt' : 'layernorm';
}

/** The other blocks: the GPT-2 block vs Llama block experiment flips only these, at the same parameter budget. */
export function otherArch(model: Pick<ModelConfig, 'llama'>): Arch {
  return archOf(model) === 'llama' ? 'gpt2' : 'llama';
}

/**
 * Repeat with more seeds: for each group of runs that differ only by seed, `count` runs of its
 * first member with the next seeds after the group's largest (so repeating twice adds new seeds).
 */
export function moreSeeds(runs: RunJson[], count = 2): { template: number; seed: number }[] {
  const groups = new Map<string, number[]>();
  runs.forEach((run, i) => {
    const { seed: _seed, ...rest } = settingsOf({ run });
    const key = JSON.stringify(rest);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const out: { template: number; seed: number }[] = [];
  for (const members of groups.values()) {
    const top = Math.max(...members.map((i) => runs[i].plan.options.seed));
    for (let k = 1; k <= count; k++) out.push({ template: members[0], seed: top + k });
  }
  return out;
}

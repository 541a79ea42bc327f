import type { ExperimentArm, RunJson } from './run-json';
import { MODEL_OPTION_KEYS, ModelConfig, ModelOptionKey, NormKind } from './model-config';
import type { TrainOptionKey, TrainOptions } from './train-options';
import type { TokenizerKind } from './tokenizer';
import { settingsOf } from './compare-runs';

// One-click experiments on a finished run: the same run with one thing changed.

/** What the training job needs to train a run again: its shape, options, tokenizer and corpus. */
export type RepeatRequest = Pick<ModelConfig, ModelOptionKey> &
  Partial<Pick<TrainOptions, TrainOptionKey>> & { corpusPath: string; tokenizer: TokenizerKind; vocabSize?: number };

/**
 * The request that trains `run` again with `change` applied: same corpus, tokenizer, shape,
 * batch, learning rate, seed, steps and evaluation interval (the rest are the recipe's defaults,
 * as they were for the run).
 */
export function repeatRequest(run: RunJson, change: { norm?: NormKind; seed?: number } = {}): RepeatRequest {
  const { model, options } = run.plan;
  const shape = Object.fromEntries(MODEL_OPTION_KEYS.map((k) => [k, model[k]])) as Pick<ModelConfig, ModelOptionKey>;
  return {
    ...shape,
    corpusPath: run.corpus.path,
    tokenizer: run.tokenizer.kind,
    // A char vocabulary is the corpus's characters; a BPE one is trained to this size again.
    vocabSize: run.tokenizer.kind === 'bpe' ? run.tokenizer.vocabSize : undefined,
    batch: options.batch,
    lr: options.lr,
    seed: options.seed,
    maxSteps: run.plan.totalSteps,
    evalEvery: run.plan.evalEvery,
    ...change,
  };
}

/** What run.json records of a run `repeatRequest` trains from the run in `runDir` with `change`. */
export function experimentArm(runDir: string, change: { norm?: NormKind; seed?: number }): ExperimentArm {
  return { kind: change.norm !== undefined ? 'norm' : 'seed', of: runDir };
}

/** The other normalisation: the LayerNorm vs Dynamic Tanh experiment flips only this. */
export function otherNorm(norm: NormKind): NormKind {
  return norm === 'layernorm' ? 'dyt' : 'layernorm';
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

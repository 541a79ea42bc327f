// What compareRuns (compare-runs.ts) finds; plain data, also read by the Compare webview.

export interface ComparedRun {
  name: string;
  dir: string;
  seed: number;
  tokenizer: { kind: string; vocabSize: number };
  /** Tokens the model has trained on per optimizer step (batch × window). */
  tokensPerStep: number;
  /** Validation bits per character at each evaluation, against tokens seen by then. */
  curve: { step: number; tokens: number; bitsPerChar: number }[];
  /** The lowest validation bits per character and the step it was measured at. */
  best?: { step: number; bitsPerChar: number };
  /** The last evaluation's validation minus training loss (overfitting shows as a growing gap). */
  gap?: { step: number; nats: number; bitsPerChar?: number };
  /** Median training throughput over the logged steps. */
  tokensPerSecond?: number;
  /** Bits per character of the held-out text from character frequencies alone (metrics.jsonl's baselines). */
  unigramBitsPerChar?: number;
  /** Its best validation is within NOT_LEARNED_MARGIN of the unigram baseline: it learned no more than character frequencies. */
  didNotLearn: boolean;
}

/** How close (a share of the unigram baseline) a run's best validation may come to it and still count as not learned. */
export const NOT_LEARNED_MARGIN = 0.05;

/** The settings a comparison looks at (the Compare panel names each in the display language). */
export const SETTING_KEYS = [
  'tokenizer',
  'vocabSize',
  'corpus',
  'layers',
  'heads',
  'width',
  'context',
  'blocks',
  'norm',
  'dropout',
  'bias',
  'window',
  'batch',
  'steps',
  'lr',
  'minLr',
  'warmupSteps',
  'weightDecay',
  'beta1',
  'beta2',
  'gradClip',
  'evalEvery',
  'valFraction',
  'seed',
  'base',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];
export type SettingValue = string | number | boolean | null;

/** One setting that is not the same in every run: its name and each run's value (null when unset). */
export interface SettingRow {
  key: SettingKey;
  values: SettingValue[];
}

/** Runs identical but for the seed: the spread that the seed alone causes. */
export interface SeedGroup {
  /** Indices into `runs`. */
  members: number[];
  seeds: number[];
  /** What sets this group apart from the other groups (`norm=dyt`), empty when there is one group. */
  label: string;
  mean: number;
  /** Sample standard deviation (n − 1) of the members' best validation bits per character. */
  std: number;
}

/**
 * What a difference between two seed groups shows: "withinNoise" when their means differ by no more
 * than the larger group's std (the rule counts only a larger difference), else "beyondNoise"; "didNotLearn" when no run of either group
 * learned (then the difference is between models that know only character frequencies).
 */
export type SeedOutcome = 'withinNoise' | 'beyondNoise' | 'didNotLearn';

export interface SeedVerdict {
  a: number;
  b: number;
  difference: number;
  spread: number;
  outcome: SeedOutcome;
}

export interface RunComparison {
  runs: ComparedRun[];
  settings: SettingRow[];
  seedGroups: SeedGroup[];
  verdicts: SeedVerdict[];
  /** Tokenizers or vocabularies differ: losses per token do not compare, bits per character do. */
  vocabulariesDiffer: boolean;
}

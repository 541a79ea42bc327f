import type { RunJson } from './run-json';
import type { LlamaFamily } from './model-config';
import { metricBaselines } from './metrics';
import { sameVocabulary } from './vocabulary';
import { NOT_LEARNED_MARGIN, SETTING_KEYS } from './run-comparison';
import type {
  ComparedRun,
  RunComparison,
  SeedGroup,
  SeedOutcome,
  SeedVerdict,
  SettingKey,
  SettingRow,
  SettingValue,
} from './run-comparison';

export type { ComparedRun, RunComparison, SeedGroup, SeedOutcome, SeedVerdict, SettingKey, SettingRow };

// Comparing runs (issue 13 item 7): validation bits per character against tokens seen, the
// settings that differ, and whether a difference is larger than what changing the seed does.

/** A run as read from its folder: run.json and metrics.jsonl's records. */
export interface RunToCompare {
  name: string;
  dir: string;
  run: RunJson;
  metrics: Record<string, unknown>[];
}

export function compareRuns(inputs: RunToCompare[]): RunComparison {
  const runs = inputs.map(comparedRun);
  const all = inputs.map(settingsOf);
  const differs = (k: SettingKey) => new Set(all.map((s) => JSON.stringify(s[k] ?? null))).size > 1;
  const settings = SETTING_KEYS.filter(differs).map((key) => ({ key, values: all.map((s) => s[key] ?? null) }));
  const seedGroups = groupBySeed(runs, all, settings);
  const verdicts: SeedVerdict[] = [];
  for (let a = 0; a < seedGroups.length; a++)
    for (let b = a + 1; b < seedGroups.length; b++) {
      const difference = Math.abs(seedGroups[a].mean - seedGroups[b].mean);
      const spread = Math.max(seedGroups[a].std, seedGroups[b].std);
      verdicts.push({ a, b, difference, spread, outcome: seedOutcome(runs, seedGroups[a], seedGroups[b], difference, spread) });
    }
  const vocabulariesDiffer = inputs.some((r) => !sameVocabulary(r.run.tokenizer, inputs[0].run.tokenizer));
  return { runs, settings, seedGroups, verdicts, vocabulariesDiffer };
}

function seedOutcome(runs: ComparedRun[], a: SeedGroup, b: SeedGroup, difference: number, spread: number): SeedOutcome {
  if ([...a.members, ...b.members].every((i) => runs[i].didNotLearn)) return 'didNotLearn';
  return difference <= spread ? 'withinNoise' : 'beyondNoise';
}

function comparedRun({ name, dir, run, metrics }: RunToCompare): ComparedRun {
  const { model, options } = run.plan;
  const tokensPerStep = options.batch * (options.context ?? model.context);
  const b = metricBaselines(metrics);
  // nats per token → bits per character of the held-out text (runs from before baselines have no such factor).
  const factor = b ? b.val_tokens / (b.val_chars * Math.LN2) : undefined;
  const evals = metrics.filter((m) => m.type === 'eval' && typeof m.step === 'number' && typeof m.val_loss === 'number');
  const curve: ComparedRun['curve'] = [];
  for (const e of evals) {
    const bpc = typeof e.val_bits_per_char === 'number' ? e.val_bits_per_char : factor && (e.val_loss as number) * factor;
    if (bpc !== undefined && Number.isFinite(bpc))
      curve.push({ step: e.step as number, tokens: (e.step as number) * tokensPerStep, bitsPerChar: bpc });
  }
  const best = curve.reduce<ComparedRun['best']>(
    (m, p) => (m && m.bitsPerChar <= p.bitsPerChar ? m : { step: p.step, bitsPerChar: p.bitsPerChar }),
    undefined,
  );
  const last = evals[evals.length - 1];
  const gapNats = last && typeof last.loss === 'number' ? (last.val_loss as number) - last.loss : undefined;
  const gap =
    gapNats === undefined
      ? undefined
      : { step: last.step as number, nats: gapNats, bitsPerChar: factor === undefined ? undefined : gapNats * factor };
  const speeds = metrics
    .filter((m) => m.type !== 'eval' && typeof m.tokens_per_s === 'number' && Number.isFinite(m.tokens_per_s))
    .map((m) => m.tokens_per_s as number);
  const unigram = b?.unigram_bits_per_char;
  return {
    name,
    dir,
    seed: options.seed,
    tokenizer: { kind: run.tokenizer?.kind ?? '?', vocabSize: run.tokenizer?.vocabSize ?? model.vocabSize },
    tokensPerStep,
    curve,
    best,
    gap,
    tokensPerSecond: median(speeds),
    unigramBitsPerChar: unigram,
    didNotLearn: best !== undefined && unigram !== undefined && best.bitsPerChar > unigram * (1 - NOT_LEARNED_MARGIN),
  };
}

/**
 * What decides a run's result: the model's shape, the training options that change the numbers,
 * the tokenizer and the corpus (by content). Checkpoint keeping and the backend are left out.
 */
export function settingsOf({ run }: Pick<RunToCompare, 'run'>): Partial<Record<SettingKey, SettingValue>> {
  const { model, options } = run.plan;
  const s: Partial<Record<SettingKey, SettingValue>> = {
    tokenizer: run.tokenizer?.kind ?? null,
    vocabSize: run.tokenizer?.vocabSize ?? model.vocabSize,
    corpus: corpusLabel(run.corpus),
    layers: model.layers,
    heads: model.heads,
    width: model.width,
    context: model.context,
    blocks: blocksName(model),
    norm: model.norm,
    dropout: model.dropout,
    bias: model.bias,
    window: options.context ?? model.context,
    batch: options.batch,
    steps: run.plan.totalSteps,
    lr: options.lr,
    minLr: options.minLr,
    warmupSteps: run.plan.warmupSteps,
    weightDecay: options.weightDecay,
    beta1: options.beta1,
    beta2: options.beta2,
    gradClip: options.gradClip,
    evalEvery: run.plan.evalEvery,
    valFraction: options.valFraction,
    seed: options.seed,
  };
  if (run.finetune) s.base = run.finetune.base;
  return s;
}

/** The family whose blocks a model has, as its makers write it. */
function blocksName(model: RunJson['plan']['model']): string {
  return model.llama ? BLOCK_NAMES[model.llama.family] : 'GPT-2';
}

const BLOCK_NAMES: Record<LlamaFamily, string> = { llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2', qwen3: 'Qwen3' };

/** The corpus's file name and the start of its hash: two versions of one file are different data. */
function corpusLabel(c: RunJson['corpus']): string {
  const name = c.path.split(/[\\/]/).pop() ?? c.path;
  return c.sha256 ? `${name} (${c.sha256.slice(0, 8)})` : name;
}

function groupBySeed(runs: ComparedRun[], all: Record<string, unknown>[], differing: SettingRow[]): SeedGroup[] {
  const byKey = new Map<string, number[]>();
  all.forEach((s, i) => {
    const { seed: _seed, ...rest } = s;
    const key = JSON.stringify(rest);
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  const groups: SeedGroup[] = [];
  for (const members of byKey.values()) {
    // One run per seed: a run trained again with the same seed repeats its result and would shrink the spread.
    const firstOfSeed = new Map<number, number>();
    for (const i of members) if (runs[i].best !== undefined && !firstOfSeed.has(runs[i].seed)) firstOfSeed.set(runs[i].seed, i);
    const scored = [...firstOfSeed.values()];
    if (scored.length < 2) continue;
    const values = scored.map((i) => runs[i].best!.bitsPerChar);
    const label = differing
      .filter((row) => row.key !== 'seed')
      .map((row) => `${row.key}=${String(row.values[members[0]])}`)
      .join(', ');
    groups.push({ members: scored, seeds: scored.map((i) => runs[i].seed), label, mean: mean(values), std: sampleStd(values) });
  }
  return groups;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sampleStd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

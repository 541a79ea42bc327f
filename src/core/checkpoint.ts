import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from './errors';
import { pathExists, readRegularFile, readRegularFileAsync } from './safe-fs';
import { isObject, parseJsonObject } from './json';
import type { TrainPlan } from './train-options';
import { ModelConfig } from './model-config';
import { NamedTensors } from './tensor';
import { encodeSafetensors, readSafetensors } from './safetensors';
import { isTempName, removeStaleTemps, writeDirAtomic } from './atomic-write';
import { gpt2TensorShapes, weightShapes } from './weight-table';
import { isLegacyDytConfig } from './gpt2-config';
import { fromModelConfigJson, toModelConfigJson } from './model-config-json';
import { addLegacyEmbedScale, legacyDytShapes } from './dyt';
import { endOfText, hfSideFiles } from './hf-export';
import { modelTokenizer } from './model-tokenizer';
import type { Tokenizer } from './tokenizer';

/** Files that make a folder a model on its own (a checkpoint, a Hugging Face, int8 or adapter folder). */
const MODEL_FOLDER_MARKERS = [
  'model.safetensors',
  'trainer_state.json',
  'model-int8.safetensors',
  'adapter_model.safetensors',
  'adapter_config.json',
  // Weights Corpus Lab refuses (a pickle, shards): the folder is still a model, refused with the reason.
  'pytorch_model.bin',
  'model.safetensors.index.json',
];

export const CHECKPOINT_FILES = [
  'model.safetensors',
  'config.json',
  'tokenizer.json',
  'optimizer.safetensors',
  'trainer_state.json',
] as const;
/** A LoRA run's checkpoint (core/adapter-checkpoint.ts): the adapter as PEFT writes it, its base record and the training state. */
export const ADAPTER_CHECKPOINT_FILES = [
  'adapter_model.safetensors',
  'adapter_config.json',
  'adapter_base.json',
  'tokenizer.json',
  'optimizer.safetensors',
  'trainer_state.json',
] as const;
const COMPLETE_SETS: readonly (readonly string[])[] = [CHECKPOINT_FILES, ADAPTER_CHECKPOINT_FILES];

/** Where training stands: enough, with the plan, to continue exactly where it stopped. */
export interface TrainerState {
  step: number;
  epoch: number;
  /** Next batch within the epoch. */
  cursor: number;
  seed: number;
  best_val_loss: number | null;
  /** The checkpoint with that loss, which pruning keeps. */
  best_checkpoint?: string;
  rng: unknown;
  /** Training time so far, carried across resumes. */
  elapsed_s?: number;
  loss?: number;
  val_loss?: number;
  /** The run's plan; without it a checkpoint cannot be resumed. */
  plan?: TrainPlan;
}

export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  weights: NamedTensors;
  optimizer?: NamedTensors;
  trainerState: TrainerState;
  tokenizerJson: string;
  /** tokenizer.json, checked to fit the model. */
  tokenizer: Tokenizer;
}

export interface CheckpointContents {
  config: ModelConfig;
  weights: NamedTensors;
  optimizer: NamedTensors;
  trainerState: TrainerState;
  tokenizerJson: string;
  tokenizerKind?: string;
  /**
   * The files of the model it was fine-tuned from that a checkpoint keeps as they are (hf-export.ts
   * keptTokenizerFiles: special tokens, chat template), so it renders conversations as its base did.
   */
  tokenizerFiles?: Record<string, string>;
}

/** Writes runDir/checkpoints/<name>/ atomically and returns its path. */
export function writeCheckpoint(runDir: string, name: string, c: CheckpointContents): string {
  const parent = join(runDir, 'checkpoints');
  removeStaleTemps(parent);
  const dir = join(parent, name);
  writeDirAtomic(dir, {
    'model.safetensors': encodeSafetensors(withZeroBiases(c.config, c.weights), { format: 'pt' }),
    'config.json': toModelConfigJson(c.config, { tokenizer_kind: c.tokenizerKind ?? 'unknown' }, endOfText(c.tokenizerJson)?.id),
    'tokenizer.json': c.tokenizerJson,
    ...hfSideFiles(c.config, c.tokenizerJson),
    ...c.tokenizerFiles,
    'optimizer.safetensors': encodeSafetensors(c.optimizer, { format: 'corpus-lab-adamw' }),
    'trainer_state.json': JSON.stringify(c.trainerState, null, 2) + '\n',
  });
  return dir;
}

/** Reads and validates a checkpoint folder: every file is untrusted input. */
export function readCheckpoint(dir: string, opts: { withOptimizer: boolean }): Checkpoint {
  const file = (name: string) => join(dir, name);
  if (!existsSync(file('trainer_state.json')) && MODEL_FOLDER_MARKERS.some((f) => existsSync(file(f)))) {
    throw new UserError(
      '{0} is a model folder without training state (a Hugging Face, merged, int8 or adapter folder): it can be evaluated and generated from, not resumed',
      dir,
    );
  }
  for (const name of CHECKPOINT_FILES) {
    if (name === 'optimizer.safetensors' && !opts.withOptimizer) continue;
    if (!existsSync(file(name))) throw new UserError('{0} is not a complete checkpoint: {1} is missing', dir, name);
  }
  const configText = readRegularFile(file('config.json'));
  const config = fromModelConfigJson(configText, file('config.json'));
  const legacy = isLegacyDytConfig(configText, file('config.json'));
  const stored = (shapes: Map<string, number[]>) => (legacy ? legacyDytShapes(shapes) : shapes);
  const tokenizerJson = readRegularFile(file('tokenizer.json'));
  const tokenizer = modelTokenizer(tokenizerJson, config, file('tokenizer.json'));
  const expected = weightShapes(config);
  const weights = readSafetensors(file('model.safetensors')).tensors;
  checkTensors(weights, stored(gpt2TensorShapes(config)), file('model.safetensors'));
  dropZeroBiases(weights, expected, file('model.safetensors'));
  let optimizer: NamedTensors | undefined;
  if (opts.withOptimizer) {
    optimizer = readSafetensors(file('optimizer.safetensors')).tensors;
    const moments = new Map<string, number[]>();
    for (const [name, shape] of stored(expected)) {
      moments.set(`m.${name}`, shape);
      moments.set(`v.${name}`, shape);
    }
    checkTensors(optimizer, moments, file('optimizer.safetensors'));
  }
  if (legacy) addLegacyEmbedScale(weights, optimizer);
  return {
    dir,
    config,
    weights,
    optimizer,
    trainerState: parseTrainerState(readRegularFile(file('trainer_state.json')), file('trainer_state.json')),
    tokenizerJson,
    tokenizer,
  };
}

/**
 * A GPT-2 model without biases is written with all-zero ones, so the folder stays a Hugging Face
 * GPT-2 model; a Llama-family model is written as it is (its table says which biases it has).
 */
export function withZeroBiases(config: ModelConfig, weights: NamedTensors): NamedTensors {
  if (config.bias || config.llama) return weights;
  const out: NamedTensors = new Map();
  for (const [name, shape] of gpt2TensorShapes(config)) {
    out.set(name, weights.get(name) ?? { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  }
  return out;
}

export function dropZeroBiases(weights: NamedTensors, expected: Map<string, number[]>, source: string): void {
  for (const [name, t] of weights) {
    if (expected.has(name)) continue;
    if (t.data.some((v) => v !== 0))
      throw new UserError('{0}: {1} is not zero, but config.json says the model has no biases (corpus_lab.bias false)', source, name);
    weights.delete(name);
  }
}

export function checkTensors(found: Map<string, { shape: number[] }>, expected: Map<string, number[]>, source: string): void {
  const missing = [...expected.keys()].filter((n) => !found.has(n));
  if (missing.length > 0) {
    throw new UserError(
      '{0}: missing {1} tensor(s) the config needs: {2}{3}',
      source,
      missing.length,
      missing.slice(0, 3).join(', '),
      missing.length > 3 ? ', …' : '',
    );
  }
  const extra = [...found.keys()].filter((n) => !expected.has(n));
  if (extra.length > 0)
    throw new UserError(
      '{0}: unexpected tensor(s) for this config: {1}{2}',
      source,
      extra.slice(0, 3).join(', '),
      extra.length > 3 ? ', …' : '',
    );
  for (const [name, shape] of expected) {
    const got = found.get(name)!.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new UserError('{0}: {1} has shape [{2}] but the config needs [{3}]', source, name, got.join(', '), shape.join(', '));
    }
  }
}

export function parseTrainerState(text: string, source: string): TrainerState {
  const o = parseJsonObject(text, source);
  for (const key of ['step', 'epoch', 'cursor', 'seed']) {
    if (!Number.isSafeInteger(o[key]) || (o[key] as number) < 0)
      throw new UserError('{0}: {1} must be a whole number ≥ 0 (got {2})', source, key, JSON.stringify(o[key]));
  }
  if (o.best_val_loss !== null && typeof o.best_val_loss !== 'number')
    throw new UserError('{0}: best_val_loss must be a number or null', source);
  for (const key of ['elapsed_s', 'loss', 'val_loss'] as const) {
    if (o[key] !== undefined && o[key] !== null && typeof o[key] !== 'number')
      throw new UserError('{0}: {1} must be a number', source, key);
  }
  if (o.best_checkpoint !== undefined && typeof o.best_checkpoint !== 'string')
    throw new UserError('{0}: best_checkpoint must be a folder name', source);
  if (o.plan !== undefined && !(isObject(o.plan) && isObject(o.plan.model) && isObject(o.plan.options)))
    throw new UserError('{0}: plan is not a training plan', source);
  return o as unknown as TrainerState;
}

/** Complete checkpoint folders of a run, oldest first (by step, then name). */
export function listCheckpoints(runDir: string): { dir: string; step: number }[] {
  const parent = join(runDir, 'checkpoints');
  if (!existsSync(parent)) return [];
  const found: { dir: string; step: number }[] = [];
  for (const name of readdirSync(parent)) {
    const dir = join(parent, name);
    if (isTempName(name) || !statSync(dir).isDirectory()) continue;
    if (!COMPLETE_SETS.some((files) => files.every((f) => existsSync(join(dir, f))))) continue;
    let step = -1;
    try {
      step = parseTrainerState(readRegularFile(join(dir, 'trainer_state.json')), dir).step;
    } catch {
      continue;
    }
    found.push({ dir, step });
  }
  return found.sort(byStep);
}

const byStep = (a: { dir: string; step: number }, b: { dir: string; step: number }) =>
  a.step - b.step || basename(a.dir).localeCompare(basename(b.dir));

/** listCheckpoints without blocking the thread, with each checkpoint's validation loss (for the extension host). */
export async function listCheckpointsAsync(runDir: string): Promise<{ dir: string; step: number; valLoss?: number }[]> {
  const parent = join(runDir, 'checkpoints');
  const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
  const found = await Promise.all(
    entries
      .filter((e) => e.isDirectory() && !isTempName(e.name))
      .map(async (e) => {
        const dir = join(parent, e.name);
        try {
          await Promise.any(COMPLETE_SETS.map((files) => Promise.all(files.map((f) => access(join(dir, f))))));
          const state = parseTrainerState(await readRegularFileAsync(join(dir, 'trainer_state.json')), dir);
          const v = state.val_loss;
          return { dir, step: state.step, valLoss: typeof v === 'number' && Number.isFinite(v) ? v : undefined };
        } catch {
          return undefined;
        }
      }),
  );
  return found.filter((c) => c !== undefined).sort(byStep);
}

/** resolveCheckpoint without blocking the thread: a checkpoint folder as given, or a run folder's newest checkpoint. */
export async function resolveCheckpointAsync(path: string): Promise<string> {
  const dir = resolve(path);
  const present = await Promise.all(MODEL_FOLDER_MARKERS.map((f) => pathExists(join(dir, f))));
  if (present.some(Boolean)) return dir;
  const all = await listCheckpointsAsync(dir);
  if (all.length === 0)
    throw new UserError('{0} has no checkpoints yet: train first, or pass a checkpoint folder (…/checkpoints/epoch-0001)', path);
  return all[all.length - 1].dir;
}

/** A checkpoint folder as given, or a run folder's newest checkpoint. */
export function resolveCheckpoint(path: string): string {
  const dir = resolve(path);
  if (!existsSync(dir)) throw new UserError('{0}: no such run or checkpoint folder', path);
  if (!statSync(dir).isDirectory()) throw new UserError('{0} is a file: pass a run folder or a checkpoint folder', path);
  if (MODEL_FOLDER_MARKERS.some((f) => existsSync(join(dir, f)))) return dir;
  const all = listCheckpoints(dir);
  if (all.length === 0) {
    throw new UserError('{0} has no checkpoints yet: train first, or pass a checkpoint folder (…/checkpoints/epoch-0001)', path);
  }
  return all[all.length - 1].dir;
}

/** Removes all but the newest `keep` checkpoints, never those named in `protect`. */
export function pruneCheckpoints(runDir: string, keep: number, protect: string[]): void {
  const all = listCheckpoints(runDir);
  for (const { dir } of all.slice(0, Math.max(0, all.length - keep))) {
    if (protect.includes(basename(dir))) continue;
    // Renamed first so a crash mid-delete never leaves a half-deleted folder that looks complete.
    const doomed = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-deleting`);
    renameSync(dir, doomed);
    rmSync(doomed, { recursive: true, force: true });
  }
}

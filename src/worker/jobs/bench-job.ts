import { startEngine, BackendChoice } from '../engine/backend';
import { median, timeTrainingSteps } from '../bench/step-timer';
import { MODEL_DEFAULTS, ModelConfig, PRESETS, validateModelConfig } from '../../core/model-config';
import { parameterCount } from '../../core/weight-table';
import { MODEL_SHAPES, ModelShapeName } from '../../core/model-shapes';
import { UserError } from '../../core/errors';
import { StepProfile, profileTrainingStep } from '../bench/step-profile';
import { resolveTrainingThreads } from '../train/replicas/replica-pool';
import { defaultLoraTargets } from '../../core/finetune';
import { loraParameterCount, loraScale, matchTargets } from '../../core/lora-adapter';
import { estimate } from '../../core/estimate';
import { checkTrainingFits } from '../../core/memory-budget';
import { freemem } from 'node:os';

export interface BenchResult {
  /** Whether this was the standard config (docs/DESIGN.md §4), the one compared with the PyTorch peer. */
  standard: boolean;
  ms_per_step: number;
  tokens_per_s: number;
  backend: string;
  threads: number;
  blas?: string;
  /** Why a better engine was not used. */
  skipped?: string[];
  params: number;
  /** Parameters AdamW updates (LoRA: the adapters'). */
  trainable_params: number;
  /** How the weights are held: a LoRA base on a real model's shape is BF16 on native, as its folder's. */
  base_dtype: 'bf16' | 'float32';
  /** The process's peak resident memory so far (bytes). */
  peak_rss_bytes: number;
  steps: number;
  config: ModelConfig & { batch: number };
  /** With `profile`: one more step on one thread, timed kernel by kernel. */
  profile?: StepProfile;
}

export interface BenchRequest extends Partial<Pick<ModelConfig, 'layers' | 'heads' | 'width' | 'context'>> {
  batch?: number;
  /** Vocabulary of the random tokens (default 65, tinyshakespeare's). */
  vocab?: number;
  /** A real model's shape (core/model-shapes.ts) instead: its blocks, widths and vocabulary, at `context`. */
  shape?: ModelShapeName;
  steps?: number;
  threads?: number;
  backend?: BackendChoice;
  profile?: boolean;
  /** Time LoRA steps instead (adapters of this rank on all four GPT-2 modules, alpha 2 × rank). */
  lora?: boolean;
  rank?: number;
}

/**
 * Times full training steps (forward, backward, clip, AdamW) on random tokens: the standard config
 * (docs/DESIGN.md §4) unless a shape is given; median after warm-up.
 */
export async function runBenchJob(req: BenchRequest = {}, warmup = 3): Promise<BenchResult> {
  const engine = await startEngine(req.backend ?? 'auto');
  const p = PRESETS.tiny;
  const shape = {
    layers: req.layers ?? p.layers,
    heads: req.heads ?? p.heads,
    width: req.width ?? p.width,
    context: req.context ?? p.context,
  };
  const config = validateModelConfig(
    req.shape
      ? { ...MODEL_SHAPES[req.shape], context: req.context ?? 128 }
      : { ...MODEL_DEFAULTS, ...shape, vocabSize: req.vocab ?? 65, dropout: 0 },
  );
  if (req.shape && (req.layers || req.heads || req.width || req.vocab))
    throw new UserError('--shape {0} sets the layers, heads, width and vocabulary: give only --context and --batch with it', req.shape);
  const batch = req.batch ?? p.batch;
  const steps = req.steps ?? 30;
  const standard =
    config.vocabSize === 65 && batch === p.batch && (['layers', 'heads', 'width', 'context'] as const).every((k) => config[k] === p[k]);
  const r = req.rank ?? 8;
  // A real model's base comes in BF16 (SmolLM2's and Qwen2.5's folders do), and LoRA holds it so on native.
  const bf16Base = req.shape !== undefined && engine.backend === 'native';
  const lora = req.lora
    ? {
        modules: matchTargets(config, defaultLoraTargets(config)),
        r,
        scale: loraScale({ r, alpha: 2 * r, rslora: false }),
        dropout: 0,
        bf16Base,
      }
    : undefined;
  const loraParams = lora ? loraParameterCount(config, lora.modules, r) : 0;
  const needed = estimate(config, batch, 1, undefined, lora && loraParams, lora?.bf16Base ? 2 : 4).trainingBytes;
  checkTrainingFits(needed, engine.backend, freemem(), req.shape ? '--batch, --context' : undefined);
  const trainingThreads = lora ? 1 : resolveTrainingThreads(req.threads, engine.backend, batch);
  const ms = median(await timeTrainingSteps(config, batch, steps, warmup, trainingThreads, lora));
  return {
    ms_per_step: Math.round(ms * 100) / 100,
    tokens_per_s: Math.round((batch * config.context * 1000) / ms),
    backend: engine.backend,
    threads: trainingThreads * engine.threads,
    blas: engine.blas,
    skipped: engine.skipped.filter((why) => why.startsWith('native:')),
    params: parameterCount(config) + loraParams,
    trainable_params: lora ? loraParams : parameterCount(config),
    base_dtype: lora?.bf16Base ? 'bf16' : 'float32',
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    steps,
    config: { ...config, batch },
    standard,
    profile: req.profile ? await profileTrainingStep(config, batch, warmup, lora) : undefined,
  };
}

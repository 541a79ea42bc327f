import { startEngine, BackendChoice } from '../engine/backend';
import { median, timeTrainingSteps } from '../bench/step-timer';
import { ModelConfig, PRESETS, parameterCount, validateModelConfig } from '../../core/model-config';
import { UserError } from '../../core/errors';
import { StepProfile, profileTrainingStep } from '../bench/step-profile';
import { resolveTrainingThreads } from '../train/replicas/replica-pool';

export interface BenchResult {
  /** Whether this is the standard config (no shape was given). */
  standard: boolean;
  ms_per_step: number;
  tokens_per_s: number;
  backend: string;
  threads: number;
  blas?: string;
  /** Why a better engine was not used. */
  skipped?: string[];
  params: number;
  steps: number;
  config: ModelConfig & { batch: number };
  /** With `profile`: one more step on one thread, timed kernel by kernel. */
  profile?: StepProfile;
}

/**
 * Times full training steps (forward, backward, clip, AdamW) of the standard config (DESIGN §4)
 * on random tokens of a 65-symbol vocabulary (tinyshakespeare's): median after warm-up.
 */
export async function runBenchJob(
  steps = 30,
  backend: BackendChoice = 'auto',
  warmup = 3,
  profile = false,
  threads?: number,
  shape: Partial<Pick<ModelConfig, 'layers' | 'heads' | 'width' | 'context' | 'vocabSize'>> & { batch?: number } = {},
): Promise<BenchResult> {
  const engine = await startEngine(backend);
  const p = PRESETS.tiny;
  const given = Object.fromEntries(Object.entries(shape).filter(([, v]) => v !== undefined));
  const standard = Object.keys(given).length === 0;
  const config = validateModelConfig({ vocabSize: 65, context: p.context, layers: p.layers, heads: p.heads, width: p.width, norm: 'layernorm', dropout: 0, ...given });
  const batch = shape.batch ?? p.batch;
  if (!Number.isInteger(batch) || batch < 1) throw new UserError(`--batch must be a whole number from 1 (got ${batch})`);
  const trainingThreads = resolveTrainingThreads(threads, engine.backend, batch);
  const ms = median(await timeTrainingSteps(config, batch, steps, warmup, trainingThreads));
  return {
    standard,
    ms_per_step: Math.round(ms * 100) / 100,
    tokens_per_s: Math.round((batch * config.context * 1000) / ms),
    backend: engine.backend,
    threads: trainingThreads * engine.threads,
    blas: engine.blas,
    skipped: engine.skipped.filter((why) => why.startsWith('native:')),
    params: parameterCount(config),
    steps,
    config: { ...config, batch },
    profile: profile ? await profileTrainingStep(config, batch, warmup) : undefined,
  };
}

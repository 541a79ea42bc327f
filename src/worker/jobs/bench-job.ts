import { startEngine, BackendChoice } from '../engine/backend';
import { median, timeTrainingSteps } from '../bench/step-timer';
import { ModelConfig, PRESETS, parameterCount } from '../../core/model-config';
import { StepProfile, profileTrainingStep } from '../bench/step-profile';
import { resolveTrainingThreads } from '../train/replicas/replica-pool';

export interface BenchResult {
  ms_per_step: number;
  tokens_per_s: number;
  backend: string;
  threads: number;
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
export async function runBenchJob(steps = 30, backend: BackendChoice = 'auto', warmup = 3, profile = false, threads?: number): Promise<BenchResult> {
  const engine = await startEngine(backend);
  const p = PRESETS.tiny;
  const config: ModelConfig = { vocabSize: 65, context: p.context, layers: p.layers, heads: p.heads, width: p.width, norm: 'layernorm', dropout: 0 };
  const trainingThreads = resolveTrainingThreads(threads, engine.backend, p.batch);
  const ms = median(await timeTrainingSteps(config, p.batch, steps, warmup, trainingThreads));
  return {
    ms_per_step: Math.round(ms * 100) / 100,
    tokens_per_s: Math.round((p.batch * p.context * 1000) / ms),
    backend: engine.backend,
    threads: trainingThreads * engine.threads,
    params: parameterCount(config),
    steps,
    config: { ...config, batch: p.batch },
    profile: profile ? await profileTrainingStep(config, p.batch, warmup) : undefined,
  };
}

import { tf } from '../engine/backend';
import { Gpt, LoraOptions } from '../model/gpt';
import { AdamW } from '../train/adamw';
import { trainStep } from '../train/train-step';
import { DEFAULT_TRAIN_OPTIONS } from '../../core/train-options';
import { ModelConfig } from '../../core/model-config';
import { Rng } from '../../core/rng';
import { ReplicaPool } from '../train/replicas/replica-pool';

export interface RandomTokenTrainer {
  step(update: number): ReturnType<typeof trainStep>;
  dispose(): Promise<void>;
}

/**
 * A fresh model and AdamW of `config`, trained on seeded random tokens on `threads` threads: what
 * bench times and profiles. With `lora`, only adapters on the frozen random base train (one thread).
 */
export async function randomTokenTrainer(
  config: ModelConfig,
  batch: number,
  threads = 1,
  lora?: Omit<LoraOptions, 'seed'>,
): Promise<RandomTokenTrainer> {
  const model = Gpt.initialise(config, 1, lora && { ...lora, seed: 1 });
  const optimizer = new AdamW(model.params, DEFAULT_TRAIN_OPTIONS, model.decayed);
  const replicas = threads > 1 ? await ReplicaPool.start(config, model.params, threads, () => undefined) : undefined;
  const rng = new Rng(7);
  const inputs = new Int32Array(batch * config.context);
  const targets = new Int32Array(batch * config.context);
  return {
    step(update) {
      for (let j = 0; j < inputs.length; j++) {
        inputs[j] = rng.below(config.vocabSize);
        targets[j] = rng.below(config.vocabSize);
      }
      return trainStep(
        model,
        optimizer,
        { inputs, targets, batch, lr: 1e-3, update, gradClip: 1, dropoutSeed: config.dropout > 0 ? update - 1 : undefined },
        replicas,
      );
    },
    async dispose() {
      await replicas?.dispose();
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** Wall time (ms) of full training steps on random tokens, after `warmup` untimed ones. */
export async function timeTrainingSteps(
  config: ModelConfig,
  batch: number,
  steps: number,
  warmup: number,
  threads = 1,
  lora?: Omit<LoraOptions, 'seed'>,
): Promise<number[]> {
  return (await measureTrainingSteps(config, batch, steps, warmup, threads, lora, false)).times;
}

/**
 * timeTrainingSteps, then (with `peak`) one more step under tf.profile: the most bytes of tensors
 * held at once during a step (weights, AdamW moments, activations, gradients) on this backend.
 */
export async function measureTrainingSteps(
  config: ModelConfig,
  batch: number,
  steps: number,
  warmup: number,
  threads = 1,
  lora?: Omit<LoraOptions, 'seed'>,
  peak = true,
): Promise<{ times: number[]; peakBytes?: number }> {
  const trainer = await randomTokenTrainer(config, batch, threads, lora);
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      await trainer.step(i + 1);
      if (i >= warmup) times.push(performance.now() - t0);
    }
    if (!peak) return { times };
    const info = await tf.profile(async () => {
      await trainer.step(warmup + steps + 1);
      return [];
    });
    return { times, peakBytes: info.peakBytes };
  } finally {
    await trainer.dispose();
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

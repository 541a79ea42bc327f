import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/backend';
import { Gpt, LoraOptions, disposeCache, newCache } from '../model/gpt';
import { meanLoss } from '../model/evaluate';
import { evalWindowStarts } from '../../core/batches';
import { writeFileAtomic } from '../../core/atomic-write';
import type { RunOverheads } from '../../core/estimate';
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

/** LoRA on a random frozen base, its matrices held as BF16 with `bf16Base` (as a BF16 folder's are). */
export type RandomBaseLora = Omit<LoraOptions, 'seed'> & { bf16Base?: boolean };

/**
 * A fresh model and AdamW of `config`, trained on seeded random tokens on `threads` threads: what
 * bench times and profiles. With `lora`, only adapters on the frozen random base train (one thread).
 */
export async function randomTokenTrainer(
  config: ModelConfig,
  batch: number,
  threads = 1,
  lora?: RandomBaseLora,
): Promise<RandomTokenTrainer> {
  const model = Gpt.initialise(config, 1, lora && { ...lora, seed: 1 }, lora?.bf16Base);
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
  lora?: RandomBaseLora,
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
  lora?: RandomBaseLora,
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

/**
 * What a run spends besides its steps, timed on a fresh model of `config`: one evaluation (the
 * forward passes over `valTokens` held-out tokens the trainer scores, in batches of `batch`, and a
 * sample of `sampleTokens`) and one checkpoint's worth of bytes (weights and two AdamW moments)
 * written to a temporary folder.
 */
export async function measureRunOverheads(
  config: ModelConfig,
  batch: number,
  evalWindows: number,
  valTokens: number,
  sampleTokens: number,
  checkpointBytes: number,
): Promise<RunOverheads> {
  const model = Gpt.initialise(config, 1);
  const rng = new Rng(11);
  const tokens = Int32Array.from({ length: valTokens }, () => rng.below(config.vocabSize));
  const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-estimate-'));
  try {
    const t0 = performance.now();
    await meanLoss(model, tokens, evalWindowStarts(valTokens, config.context, evalWindows), config.context, batch);
    const cache = newCache();
    try {
      for (let i = 0; i < sampleTokens && cache.length < config.context; i++) {
        const logits = model.next([rng.below(config.vocabSize)], cache);
        await logits.data();
        logits.dispose();
      }
    } finally {
      disposeCache(cache);
    }
    const t1 = performance.now();
    writeFileAtomic(join(dir, 'checkpoint'), Buffer.alloc(checkpointBytes, 1));
    const t2 = performance.now();
    return { evaluation: (t1 - t0) / 1000, checkpoint: (t2 - t1) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine } from '../../src/worker/engine/backend';
import { Gpt } from '../../src/worker/model/gpt';
import { ModelConfig } from '../../src/core/model-config';
import { AdamW } from '../../src/worker/train/adamw';
import { trainStep } from '../../src/worker/train/train-step';
import { maxAbsDiff } from './helpers';

before(async () => {
  await startEngine('wasm');
});

test('fused AdamW kernel: same weights and moments as the tfjs-op AdamW after a few clipped steps', async () => {
  const config: ModelConfig = { vocabSize: 17, context: 8, layers: 1, heads: 2, width: 16, norm: 'layernorm', dropout: 0, bias: true };
  const runs = [];
  for (const composite of [false, true]) {
    const model = Gpt.initialise(config, 9);
    const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.99, weightDecay: 0.1 }, model.decayed);
    optimizer.compositeOps = composite;
    const losses: number[] = [];
    for (let step = 1; step <= 4; step++) {
      const inputs = Int32Array.from({ length: 16 }, (_, i) => (i * 3 + step) % 17);
      const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 5 + step) % 17);
      // gradClip 0.5 makes the clipping factor matter
      losses.push((await trainStep(model, optimizer, { inputs, targets, batch: 2, lr: 3e-2, update: step, gradClip: 0.5 })).loss);
    }
    runs.push({ losses, weights: await model.weights(), moments: await optimizer.moments() });
    optimizer.dispose();
    model.dispose();
  }
  const [fused, composite] = runs;
  fused.losses.forEach((l, i) => assert.ok(Math.abs(l - composite.losses[i]) < 1e-5, `loss ${i}: ${l} vs ${composite.losses[i]}`));
  for (const [name, w] of fused.weights) assert.ok(maxAbsDiff(w.data, composite.weights.get(name)!.data) < 1e-5, name);
  for (const [name, m] of fused.moments) assert.ok(maxAbsDiff(m.data, composite.moments.get(name)!.data) < 1e-6, name);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { train } from '../../src/worker/train/trainer';
import { Gpt } from '../../src/worker/model/gpt';
import { AdamW } from '../../src/worker/train/adamw';
import { trainTokenizer } from '../../src/core/tokenizer';
import { makeTrainPlan } from '../../src/core/train-plan';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../src/core/train-options';
import { ModelConfig } from '../../src/core/model-config';
import { TrainerState } from '../../src/core/checkpoint';
import { ENGLISH, tempDir } from './helpers';

test('training empties the host copies of the weights and moments it starts from once they are on the engine', async () => {
  const engine = await startEngine('wasm');
  const text = readFileSync(ENGLISH, 'utf8').slice(0, 20_000);
  const tokenizer = trainTokenizer(text, { kind: 'char' });
  const tokens = Int32Array.from(tokenizer.encode(text));
  const config: ModelConfig = {
    vocabSize: tokenizer.vocabSize,
    context: 16,
    layers: 1,
    heads: 2,
    width: 16,
    norm: 'layernorm',
    dropout: 0,
    bias: true,
  };
  const options = validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, batch: 2, maxSteps: 2, evalEvery: 2 });
  const plan = makeTrainPlan(tokens.length, config, options);
  const source = Gpt.initialise(config, 3);
  const optimizer = new AdamW(source.params, options, source.decayed);
  const [weights, moments] = [await source.weights(), await optimizer.moments()];
  const resumeWeights = new Map(weights);
  tf.dispose([...source.params.values()]);
  optimizer.dispose();
  const job = { plan, tokens, tokenizer, engine, threads: 1, shouldStop: () => false, emit: () => undefined, log: () => undefined };
  await train({ ...job, runDir: tempDir(), start: { weights } });
  assert.equal(weights.size, 0, 'fine-tuning start weights');
  const state: TrainerState = { step: 0, epoch: 0, cursor: 0, seed: 7, best_val_loss: null, rng: null };
  await train({ ...job, runDir: tempDir(), resume: { from: 'x', weights: resumeWeights, optimizer: moments, state } });
  assert.equal(resumeWeights.size, 0, 'resumed weights');
  assert.equal(moments.size, 0, 'resumed moments');
});

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt } from '../../src/worker/model/gpt';
import { AdamW } from '../../src/worker/train/adamw';
import { splitBatch, trainStep, StepInput } from '../../src/worker/train/train-step';
import { lowerThreadPriority } from '../../src/worker/thread-priority';
import { ReplicaFailure, ReplicaPool, resolveTrainingThreads } from '../../src/worker/train/replicas/replica-pool';
import { ModelConfig } from '../../src/core/model-config';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/core/train-options';
import { Worker } from 'node:worker_threads';
import { isUserError } from '../../src/core/errors';

const config: ModelConfig = { vocabSize: 23, context: 16, layers: 2, heads: 2, width: 32, norm: 'layernorm', dropout: 0, bias: true };

before(async () => {
  await startEngine('wasm');
});

function batchAt(step: number, batch: number): StepInput {
  const n = batch * config.context;
  return {
    inputs: Int32Array.from({ length: n }, (_, i) => (i * 7 + step * 3) % config.vocabSize),
    targets: Int32Array.from({ length: n }, (_, i) => (i * 5 + step) % config.vocabSize),
    batch,
    lr: 1e-2,
    update: step,
    gradClip: 1,
  };
}

async function train(threads: number, batch: number, steps: number) {
  const model = Gpt.initialise(config, 3);
  const optimizer = new AdamW(model.params, DEFAULT_TRAIN_OPTIONS, model.decayed);
  const pool = threads > 1 ? await ReplicaPool.start(config, model.params, threads, () => undefined) : undefined;
  const losses: number[] = [];
  try {
    for (let s = 1; s <= steps; s++) losses.push((await trainStep(model, optimizer, batchAt(s, batch), pool)).loss);
    return { losses, weights: await model.weights() };
  } finally {
    await pool?.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

test('shards cover the batch once, in order, weighted by their share', () => {
  const s = batchAt(1, 5);
  const shards = splitBatch(s, 3);
  assert.deepEqual(
    shards.map((x) => x.rows),
    [2, 2, 1],
  );
  assert.deepEqual(
    shards.map((x) => x.lossScale),
    [0.4, 0.4, 0.2],
  );
  assert.deepEqual(Int32Array.from(shards.flatMap((x) => Array.from(x.inputs))), s.inputs);
  assert.deepEqual(Int32Array.from(shards.flatMap((x) => Array.from(x.targets))), s.targets);
});

test('training on 2 and 3 threads follows the one-thread run (same losses and weights up to float rounding)', async () => {
  const one = await train(1, 6, 5);
  for (const [threads, batch] of [
    [2, 6],
    [3, 6],
  ]) {
    const many = await train(threads, batch, 5);
    many.losses.forEach((l, i) =>
      assert.ok(Math.abs(l - one.losses[i]) < 2e-5, `${threads} threads, step ${i + 1}: ${l} vs ${one.losses[i]}`),
    );
    for (const [name, w] of many.weights) {
      const ref = one.weights.get(name)!.data;
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(w.data[i] - ref[i]));
      // AdamW divides by √v: where a gradient is ~0 (the key bias), rounding noise becomes a step of ~lr
      assert.ok(max < 5e-4, `${threads} threads: ${name} differs by ${max}`);
    }
  }
  // the losses moved: the comparison above is not between two untrained models
  assert.ok(one.losses[4] < one.losses[0] - 0.05, `${one.losses}`);
});

test('an uneven split (batch 5 on 3 threads) still gives the batch mean', async () => {
  const one = await train(1, 5, 2);
  const three = await train(3, 5, 2);
  three.losses.forEach((l, i) => assert.ok(Math.abs(l - one.losses[i]) < 2e-5, `step ${i + 1}: ${l} vs ${one.losses[i]}`));
});

test('a replica thread that dies fails the step with ReplicaFailure and leaves the model untouched', async () => {
  const tensors = tf.memory().numTensors;
  const model = Gpt.initialise(config, 4);
  const optimizer = new AdamW(model.params, DEFAULT_TRAIN_OPTIONS, model.decayed);
  const pool = await ReplicaPool.start(config, model.params, 2, () => undefined);
  try {
    await trainStep(model, optimizer, batchAt(1, 4), pool);
    const before = await model.weights();
    await (pool as unknown as { workers: Worker[] }).workers[0].terminate();
    await assert.rejects(
      trainStep(model, optimizer, batchAt(2, 4), pool),
      (e: Error) => e instanceof ReplicaFailure && /training thread 2 of 2 failed/.test(e.message),
    );
    for (const [name, w] of await model.weights()) assert.deepEqual(w.data, before.get(name)!.data, name);
    // what the trainer does next: the same step on this thread alone
    const { loss } = await trainStep(model, optimizer, batchAt(2, 4));
    assert.ok(Number.isFinite(loss));
  } finally {
    await pool.dispose();
    optimizer.dispose();
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind by the failed step');
});

test('thread count: as asked (at most the batch), else one per core up to 4 with shards of 2+ rows; one off wasm', () => {
  assert.equal(resolveTrainingThreads(3, 'wasm', 12), 3);
  assert.equal(resolveTrainingThreads(8, 'wasm', 2), 2);
  assert.equal(resolveTrainingThreads(undefined, 'wasm', 1), 1);
  assert.ok(resolveTrainingThreads(undefined, 'wasm', 12) <= 4);
  assert.equal(resolveTrainingThreads(4, 'tensorflow', 12), 1);
  assert.equal(resolveTrainingThreads(undefined, 'cpu', 12), 1);
  for (const bad of [0, 65, 1.5, -2]) {
    for (const backend of ['wasm', 'cpu']) {
      assert.throws(
        () => resolveTrainingThreads(bad, backend, 12),
        (e: Error) => isUserError(e) && e.message === `threads must be a whole number from 1 to 64 (got ${bad})`,
      );
    }
  }
});

test("replica threads' log lines reach the pool's log (the extension's log)", async () => {
  lowerThreadPriority(2); // replicas take the starting thread's nice value and log it
  const model = Gpt.initialise(config, 4);
  const lines: string[] = [];
  const pool = await ReplicaPool.start(config, model.params, 2, (line) => lines.push(line));
  try {
    for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      lines.some((l) => /^replica 1: thread \d+ runs at nice 2$/.test(l)),
      JSON.stringify(lines),
    );
  } finally {
    await pool.dispose();
    model.dispose();
  }
});

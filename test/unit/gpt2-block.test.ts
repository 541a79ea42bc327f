import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { nativeGpt2Block } from '../../src/worker/engine/kernels/gpt2-block';
import { fusedCausalAttention } from '../../src/worker/engine/kernels/attention';
import { ModelConfig } from '../../src/core/model-config';
import { Gpt, NATIVE_OPS, OpSet, TFJS_OPS } from '../../src/worker/model/gpt';

// A GPT-2 block as one native call each way (native/gpt2-block.cc) against the same block in ops:
// the native kernels one by one (the same floats) and the tfjs ops (the reference). Skipped only
// where the addon is not built; CI builds it.
const loaded = loadAddon();
const missing = 'why' in loaded ? loaded.why : undefined;
const skip = missing && process.env.CI !== 'true' ? `native engine not available: ${missing}` : false;

before(async () => {
  if (!skip) await startEngine('native');
});

function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let scale = 1e-3;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m / scale;
}

/** Loss and every gradient of a model on `ops`, batch 3 of the whole context, from the same weights (seed 5). */
function lossAndGrads(config: ModelConfig, ops: OpSet): { loss: number; grads: Map<string, Float32Array> } {
  const model = Gpt.initialise(config, 5);
  // Non-zero biases and norm weights, so a bias or norm mixed up would show.
  for (const [name, v] of model.params)
    if (!name.endsWith('.weight') || v.rank === 1) v.assign(tf.randomNormal(v.shape, 0.5, 0.3, 'float32', name.length));
  model.ops = ops;
  const n = 3 * config.context;
  const ids = tf.tensor2d(
    Array.from({ length: n }, (_, i) => (i * 7 + 3) % config.vocabSize),
    [3, config.context],
    'int32',
  );
  const targets = tf.tensor2d(
    Array.from({ length: n }, (_, i) => (i * 5 + 1) % config.vocabSize),
    [3, config.context],
    'int32',
  );
  const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), [...model.params.values()]);
  const out = {
    loss: value.dataSync()[0],
    grads: new Map([...model.params].map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
  };
  tf.dispose([value, ids, targets, ...Object.values(grads)]);
  model.dispose();
  return out;
}

const configs: ModelConfig[] = [
  { vocabSize: 29, context: 7, layers: 2, heads: 3, width: 24, norm: 'layernorm', dropout: 0, bias: true },
  { vocabSize: 29, context: 9, layers: 2, heads: 2, width: 20, norm: 'layernorm', dropout: 0, bias: false },
];

test('a GPT-2 block in one native call: the same loss and gradients as its native kernels one by one, and the tfjs ops’', { skip }, () => {
  for (const config of configs) {
    let calls = 0;
    const fused: OpSet = {
      ...NATIVE_OPS,
      gpt2Block: (...args) => {
        calls++;
        return nativeGpt2Block(...args);
      },
    };
    const got = lossAndGrads(config, fused);
    assert.equal(calls, config.layers, 'every block went through the one call');
    const opByOp = lossAndGrads(config, { ...NATIVE_OPS, gpt2Block: undefined });
    const reference = lossAndGrads(config, TFJS_OPS);
    const label = `bias ${config.bias}`;
    assert.equal(got.loss, opByOp.loss, `${label}: loss`);
    assert.ok(Math.abs(got.loss - reference.loss) < 1e-5, `${label}: loss ${got.loss} vs the tfjs ops' ${reference.loss}`);
    for (const [name, g] of got.grads) {
      assert.deepEqual(g, opByOp.grads.get(name), `${label}: gradient of ${name} differs from the kernels one by one`);
      const d = maxRelDiff(g, reference.grads.get(name)!);
      assert.ok(d < 1e-4, `${label}: gradient of ${name} differs from the tfjs ops' by ${d}`);
    }
  }
});

test('the one-call block leaves no tensor behind, forward only or with gradients', { skip }, () => {
  const [b, t, h, c] = [2, 5, 2, 8];
  const shapes = [[c], [c], [c, 3 * c], [3 * c], [c, c], [c], [c], [c], [c, 4 * c], [4 * c], [4 * c, c], [c]];
  const weights = shapes.map((s, i) => tf.randomNormal(s, 0, 0.3, 'float32', i + 1));
  const x = tf.randomNormal([b * t, c], 0, 1, 'float32', 99);
  const before = tf.memory();
  tf.tidy(() => {
    nativeGpt2Block(x, weights, b, t, h);
  });
  tf.dispose(tf.grads((...xs: tf.Tensor[]) => tf.sum(nativeGpt2Block(xs[0], xs.slice(1), b, t, h)))([x, ...weights]));
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  tf.dispose([x, ...weights]);
});

/** GPT-2's causal attention on qkv [b·t, 3c] in tfjs ops: heads split, q·kᵀ/√d masked, softmax, ·v. */
function referenceAttention(qkv: tf.Tensor, b: number, t: number, h: number): tf.Tensor {
  const c = qkv.shape[1]! / 3;
  const heads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [b, t, h, c / h]), [0, 2, 1, 3]);
  const [q, k, v] = tf.split(qkv, 3, 1).map(heads);
  const mask = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([t, t]), -1, 0)), -1e9);
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(c / h)), mask);
  return tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [b * t, c]);
}

test(
  'the causal attention kernel equals the tfjs ops, values and gradients, on rows of whole vectors of 16 and a partial one',
  { skip },
  () => {
    for (const [b, t, h, c] of [
      [2, 37, 3, 24],
      [1, 64, 4, 128],
      [3, 16, 2, 8],
    ]) {
      const qkv = tf.randomNormal([b * t, 3 * c], 0, 1, 'float32', t);
      const dy = tf.randomNormal([b * t, c], 0, 1, 'float32', t + 1);
      const [got, want] = [
        (x: tf.Tensor) => fusedCausalAttention(x as tf.Tensor2D, b, t, h),
        (x: tf.Tensor) => referenceAttention(x, b, t, h),
      ].map((f) =>
        tf.tidy(() => [f(qkv), tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), dy)))(qkv)].map((r) => r.dataSync() as Float32Array)),
      );
      for (const [i, what] of ['value', 'gradient'].entries()) {
        const d = maxRelDiff(got[i], want[i]);
        assert.ok(d < 2e-5, `b${b} t${t} h${h} c${c}: ${what} differs from the tfjs ops' by ${d}`);
      }
      tf.dispose([qkv, dy]);
    }
  },
);

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { nativeLlamaBlock } from '../../src/worker/engine/kernels/llama-block';
import { ModelConfig } from '../../src/core/model-config';
import { Gpt, NATIVE_OPS, OpSet, TFJS_OPS } from '../../src/worker/model/gpt';

// A Llama-family block as one native call each way (native/llama-block.cc) against the same block
// in ops: the native kernels one by one and the tfjs ops (the reference). Skipped only where the
// addon is not built; CI builds it.
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

interface Run {
  logits: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
}

/** Logits, loss and every gradient of a model on `ops`, batch 3 of the whole context, from the same weights (seed 5). */
function run(config: ModelConfig, ops: OpSet): Run {
  const model = Gpt.initialise(config, 5);
  // Norm weights and biases away from 1 and 0, and each its own, so one mixed up would show.
  [...model.params.values()].forEach((v, i) => v.rank === 1 && v.assign(tf.randomNormal(v.shape, 0.5, 0.3, 'float32', i)));
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
  const logits = tf.tidy(() => model.forward(ids).dataSync() as Float32Array);
  const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), [...model.params.values()]);
  const out = {
    logits,
    loss: value.dataSync()[0],
    grads: new Map([...model.params].map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
  };
  tf.dispose([value, ids, targets, ...Object.values(grads)]);
  model.dispose();
  return out;
}

// Width 40 with 6 × 8 (or 4 × 12) wide heads: the head size is its own, as Qwen3's head_dim.
const base = { vocabSize: 31, context: 11, layers: 2, width: 40, norm: 'rmsnorm', dropout: 0, bias: false } as const;
const llama = { ropeTheta: 10_000, normEps: 1e-6, mlpWidth: 72, qkvBias: false, qkNorm: false, tiedHead: false } as const;
const configs = [
  { ...base, heads: 6, llama: { ...llama, family: 'llama', kvHeads: 2, headDim: 8, tiedHead: true } },
  { ...base, heads: 6, llama: { ...llama, family: 'qwen2', kvHeads: 3, headDim: 8, qkvBias: true } },
  { ...base, heads: 4, llama: { ...llama, family: 'qwen3', kvHeads: 2, headDim: 12, qkNorm: true, normEps: 1e-5 } },
] satisfies ModelConfig[];

test(
  'a Llama, Qwen2 and Qwen3 block in one native call: the logits, loss and every gradient of its kernels one by one and of the tfjs ops',
  { skip },
  () => {
    for (const config of configs) {
      let calls = 0;
      const fused: OpSet = {
        ...NATIVE_OPS,
        llamaBlock: (...args) => {
          calls++;
          return nativeLlamaBlock(...args);
        },
      };
      const got = run(config, fused);
      assert.equal(calls, 2 * config.layers, 'every block went through the one call, in the forward pass and in the loss');
      const opByOp = run(config, { ...NATIVE_OPS, llamaBlock: undefined });
      const reference = run(config, TFJS_OPS);
      const label = config.llama.family;
      // The same kernels, but gradients summed in another order (dx of q, k and v; a bias added after or before the product).
      for (const [want, tolerance, what] of [
        [opByOp, 1e-6, 'the kernels one by one'],
        [reference, 1e-5, 'the tfjs ops'],
      ] as const) {
        const d = maxRelDiff(got.logits, want.logits);
        assert.ok(d < tolerance, `${label}: logits differ from ${what}'s by ${d}`);
        assert.ok(Math.abs(got.loss - want.loss) < tolerance / 10, `${label}: loss ${got.loss} vs ${what}' ${want.loss}`);
        for (const [name, g] of got.grads) {
          const dg = maxRelDiff(g, want.grads.get(name)!);
          assert.ok(dg < tolerance, `${label}: gradient of ${name} differs from ${what}' by ${dg}`);
        }
      }
    }
  },
);

test('the one-call Llama block leaves no tensor behind, forward only or with gradients', { skip }, () => {
  const [b, t, heads, kvHeads, d, c, f] = [2, 5, 4, 2, 6, 16, 24];
  const [q, kv] = [heads * d, kvHeads * d];
  const shapes = [[c], [q, c], [q], [kv, c], [kv], [kv, c], [kv], [d], [d], [c, q], [c], [f, c], [f, c], [c, f]];
  const weights = shapes.map((s, i) => tf.randomNormal(s, 0, 0.3, 'float32', i + 1));
  const x = tf.randomNormal([b * t, c], 0, 1, 'float32', 99);
  const [cos, sin] = [
    tf.cos(tf.randomNormal([t, 1, d / 2], 0, 1, 'float32', 7)),
    tf.sin(tf.randomNormal([t, 1, d / 2], 0, 1, 'float32', 7)),
  ];
  const shape = { b, t, heads, kvHeads, eps: 1e-6 };
  const before = tf.memory();
  tf.tidy(() => {
    nativeLlamaBlock(x, weights, cos, sin, shape);
  });
  tf.dispose(tf.grads((...xs: tf.Tensor[]) => tf.sum(nativeLlamaBlock(xs[0], xs.slice(1), cos, sin, shape)))([x, ...weights]));
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  tf.dispose([x, cos, sin, ...weights]);
});

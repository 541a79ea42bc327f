import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { FrozenProduct, nativeLoraLinear } from '../../src/worker/engine/kernels/lora-linear';
import { bf16Matrix, bf16MatMul, bf16MatMulTransposedB } from '../../src/worker/engine/kernels/bf16-matrix';
import { fusedLinear, matMulTransposedB } from '../../src/worker/engine/kernels/linear';
import { Rng } from '../../src/core/rng';
import { Gpt, TFJS_OPS } from '../../src/worker/model/gpt';
import { readModelFolder } from '../../src/core/model-folder';
import { loraModuleShapes, matchTargets } from '../../src/core/lora-adapter';
import { defaultLoraTargets } from '../../src/core/finetune';
import { join } from 'node:path';
import { REPO, maxAbsDiff } from './helpers';

// The native LoRA layer (kernels/lora-linear.ts) against the same layer in plain tfjs ops: values
// and the gradients of x, A and B, on each kind of frozen base it runs on.
const loaded = loadAddon();
const missing = 'why' in loaded ? loaded.why : undefined;
const skip = missing && process.env.CI !== 'true' ? `native engine not available: ${missing}` : false;

before(async () => {
  if (!skip) await startEngine('native');
});

const [n, inputs, outputs, r, scale] = [37, 24, 20, 4, 1.5];
const rng = new Rng(3);
/** Values of BF16 precision (low 16 bits zero), so a BF16-held copy is the same matrix. */
const values = (size: number) =>
  Float32Array.from({ length: size }, () => {
    const v = new Float32Array([2 * rng.next() - 1]);
    new Uint32Array(v.buffer)[0] &= 0xffff0000;
    return v[0];
  });

/** loss = Σ y ⊙ R of the layer, and its gradients by x, A, B. */
function lossAndGrads(
  layer: (x: tf.Tensor2D, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  x: tf.Tensor2D,
  a: tf.Tensor,
  b: tf.Tensor,
  weights: tf.Tensor,
) {
  const f = (x: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layer(x as tf.Tensor2D, a, b), weights));
  const { value, grads } = tf.valueAndGrads(f)([x, a, b]);
  return [value, ...grads].map((t) => t.dataSync() as Float32Array);
}

for (const kind of ['nn.Linear float32', 'nn.Linear BF16', 'Conv1D float32'] as const) {
  test(`LoRA layer on a frozen ${kind} base: y = x·W + scale·(x·Aᵀ)·Bᵀ and the gradients of x, A and B equal tfjs ops`, { skip }, () => {
    tf.tidy(() => {
      const x = tf.tensor2d(values(n * inputs), [n, inputs]);
      const a = tf.tensor2d(values(r * inputs), [r, inputs]);
      const b = tf.tensor2d(values(outputs * r), [outputs, r]);
      const bias = tf.tensor1d(values(outputs));
      const weights = tf.tensor2d(values(n * outputs), [n, outputs]);
      const conv1d = kind === 'Conv1D float32';
      const w = conv1d
        ? tf.tensor2d(values(inputs * outputs), [inputs, outputs])
        : tf.tensor2d(values(outputs * inputs), [outputs, inputs]);
      const held = kind === 'nn.Linear BF16' ? bf16Matrix({ shape: w.shape, data: w.dataSync() as Float32Array }) : w;
      const base: FrozenProduct = conv1d
        ? { forward: (v) => fusedLinear(v, w, bias), inputGradient: (dy) => matMulTransposedB(dy, w) }
        : kind === 'nn.Linear BF16'
          ? { forward: (v) => bf16MatMulTransposedB(v, held), inputGradient: (dy) => bf16MatMul(dy, held) }
          : { forward: (v) => tf.matMul(v, w, false, true), inputGradient: (dy) => tf.matMul(dy, w) };
      const plain = (v: tf.Tensor) => (conv1d ? tf.add(tf.matMul(v, w), bias) : tf.matMul(v, w, false, true));
      const reference = (v: tf.Tensor2D, a: tf.Tensor, b: tf.Tensor) =>
        tf.add(plain(v), tf.mul(tf.matMul(tf.matMul(v, a, false, true), b, false, true), scale));
      const want = lossAndGrads(reference, x, a, b, weights);
      const got = lossAndGrads((v, a, b) => nativeLoraLinear(v, base, a, b, scale), x, a, b, weights);
      ['loss', 'dx', 'dA', 'dB'].forEach((name, i) =>
        assert.ok(maxAbsDiff(got[i], want[i]) < 1e-4, `${name}: ${maxAbsDiff(got[i], want[i])}`),
      );
      // The layer's output itself, not only its weighted sum.
      assert.ok(maxAbsDiff(nativeLoraLinear(x, base, a, b, scale).dataSync(), reference(x, a, b).dataSync()) < 1e-5);
    });
  });
}

test(
  'a Qwen2 model with LoRA on its seven projections: the native layers give the loss and adapter gradients of tfjs ops',
  { skip },
  () => {
    const files = readModelFolder(join(REPO, 'test/fixtures/hf-llama/qwen2'));
    const config = files.config;
    const modules = matchTargets(config, defaultLoraTargets(config));
    const shapes = loraModuleShapes(config);
    const from = new Map(
      modules.map((m) => {
        const [inputs, outputs] = shapes.get(m)!;
        return [m, { a: { shape: [r, inputs], data: values(r * inputs) }, b: { shape: [outputs, r], data: values(outputs * r) } }];
      }),
    );
    const model = Gpt.fromWeights(config, files.weights, { modules, r, scale, dropout: 0, seed: 1, from }, true);
    try {
      const ids = tf.tensor2d([[5, 17, 300, 2, 41, 9, 77, 1000]], [1, 8], 'int32');
      const targets = tf.tensor2d([[17, 300, 2, 41, 9, 77, 1000, 3]], [1, 8], 'int32');
      const run = () => {
        const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), [...model.params.values()]);
        return [value, ...Object.values(grads)].map((t) => t.dataSync() as Float32Array);
      };
      assert.ok(model.ops.loraLinear, 'the native engine runs its LoRA layer');
      const got = run();
      model.ops = TFJS_OPS;
      const want = run();
      assert.equal(got.length, 1 + 2 * modules.length);
      got.forEach((g, i) => assert.ok(maxAbsDiff(g, want[i]) < 1e-4, `${i}: ${maxAbsDiff(g, want[i])}`));
    } finally {
      model.dispose();
    }
  },
);

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { freeingCustomGrad } from '../../src/worker/engine/freeing-custom-grad';
import { fusedGelu } from '../../src/worker/engine/kernels/gelu';
import { Gpt, KERNEL_OPS, TFJS_OPS } from '../../src/worker/model/gpt';
import { ModelConfig } from '../../src/core/model-config';
import { shardGradients } from '../../src/worker/train/train-step';
import { peakBytes } from './peak-bytes';

// What a training step holds on the heap during its backward pass, and that holding less did not
// change a single gradient.

const native = 'addon' in loadAddon();
const engines = (native ? ['native', 'wasm', 'cpu'] : ['wasm', 'cpu']) as Array<'native' | 'wasm' | 'cpu'>;

test('a chain of ops with custom gradients frees each saved tensor and incoming gradient once its gradient is taken', async () => {
  await startEngine('wasm');
  const size = 1 << 16;
  const layers = 24;
  // A chain whose saved inputs and gradients are all the same size: tfjs alone holds every one of
  // both until the backward pass ends (~2 × layers tensors); freed as it goes, the activations are
  // the peak (~1 × layers).
  const chain = (op: (x: tf.Tensor) => tf.Tensor) => (x: tf.Tensor) => {
    let y = x;
    for (let i = 0; i < layers; i++) y = op(y);
    return tf.sum(y);
  };
  const stock = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return { value: tf.mul(x, 1.01), gradFunc: (dy: tf.Tensor) => tf.mul(dy, 1.01) };
  }) as (x: tf.Tensor) => tf.Tensor;
  const freeing = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return { value: tf.mul(x, 1.01), gradFunc: (dy: tf.Tensor) => tf.mul(dy, 1.01) };
  });
  const x = tf.randomNormal([size], 0, 1, 'float32', 3);
  const tensor = size * 4;
  const grads = (op: (x: tf.Tensor) => tf.Tensor) => tf.grads(chain(op))([x]);
  const held = peakBytes(() => grads(stock));
  const freed = peakBytes(() => grads(freeing));
  assert.ok(held > 1.8 * layers * tensor, `stock customGrad peak ${held / tensor} tensors`);
  assert.ok(freed < 1.3 * layers * tensor, `freeing customGrad peak ${freed / tensor} tensors`);
  // Same gradient.
  const [a, b] = [grads(stock)[0], grads(freeing)[0]];
  assert.deepEqual(a.dataSync(), b.dataSync());
  // The caller's tensors are untouched and nothing is left behind.
  const left = tf.memory().numTensors;
  tf.dispose(grads(freeing));
  assert.equal(tf.memory().numTensors, left);
  assert.equal(x.isDisposed, false);
  tf.dispose([a, b, x]);
  // A fused kernel op in the chain works the same way (its gradient function reads what it saved).
  const z = tf.randomNormal([size], 0, 1, 'float32', 4);
  const g = tf.grads(chain(fusedGelu))([z])[0];
  assert.ok(g.dataSync().every(Number.isFinite));
  tf.dispose([g, z]);
});

const config: ModelConfig = { vocabSize: 3000, context: 8, layers: 2, heads: 2, width: 64, norm: 'layernorm', dropout: 0, bias: true };
const batch = 2;

function batchOf(seed: number): { inputs: Int32Array; targets: Int32Array } {
  const n = batch * config.context;
  return {
    // Repeated ids, so rows of the token embedding's gradient get several contributions.
    inputs: Int32Array.from({ length: n }, (_, i) => ((i * 7 + seed) % 11) * 97),
    targets: Int32Array.from({ length: n }, (_, i) => (i * 5 + seed) % config.vocabSize),
  };
}

/** Today's gradients the plain way: every parameter through the tape, the tied embedding's two parts added by tfjs. */
function tapeGradients(model: Gpt, inputs: Int32Array, targets: Int32Array) {
  return tf.tidy(() => {
    const x = tf.tensor2d(inputs, [batch, config.context], 'int32');
    const y = tf.tensor2d(targets, [batch, config.context], 'int32');
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), [...model.params.values()]);
    const byName: Record<string, tf.Tensor> = {};
    for (const [name, v] of model.params) byName[name] = grads[v.name];
    return { loss: value, grads: byName };
  });
}

for (const engine of engines) {
  test(`${engine}: the token embedding's gradient taken apart from the tape equals the tape's, bit for bit`, async () => {
    await startEngine(engine);
    for (const ops of engine === 'cpu' ? [TFJS_OPS] : [KERNEL_OPS, TFJS_OPS]) {
      const model = Gpt.initialise(config, 11);
      model.ops = ops;
      for (const seed of [1, 2]) {
        const { inputs, targets } = batchOf(seed);
        const plain = tapeGradients(model, inputs, targets);
        const split = tf.tidy(() => shardGradients(model, { inputs, targets, rows: batch, lossScale: 1 }));
        assert.equal(split.loss.dataSync()[0], plain.loss.dataSync()[0]);
        for (const name of model.params.keys()) {
          const [got, want] = [split.grads[name].dataSync(), plain.grads[name].dataSync()];
          // Equal as numbers (a zero's sign may differ where the head's gradient is −0 and no token adds to it).
          const differ = got.findIndex((v, i) => v !== want[i]);
          assert.equal(differ, -1, `${engine} ${ops === KERNEL_OPS ? 'kernels' : 'tfjs ops'}: ${name} differs at ${differ}`);
        }
        tf.dispose([plain.loss, split.loss, ...Object.values(plain.grads), ...Object.values(split.grads)]);
      }
      model.dispose();
    }
  });
}

test(
  'native: a GPT training step holds far less during its backward pass (activations freed, no extra [vocab, width] tensors)',
  { skip: native ? false : 'native engine not available' },
  async () => {
    await startEngine('native');
    const model = Gpt.initialise(config, 11);
    const { inputs, targets } = batchOf(1);
    const table = config.vocabSize * config.width * 4;
    const tape = peakBytes(() => tapeGradients(model, inputs, targets));
    const ours = peakBytes(() => shardGradients(model, { inputs, targets, rows: batch, lossScale: 1 }));
    const params = [...model.params.values()].reduce((s, p) => s + p.size * 4, 0);
    // The gradients themselves (one table's worth for the embedding) plus little more; the tape's
    // way adds two more tables and keeps every activation and activation gradient.
    assert.ok(ours < params + 0.5 * table, `peak ${ours} bytes above the weights; gradients ${params}, table ${table}`);
    assert.ok(tape - ours > 1.5 * table, `tape ${tape} vs ours ${ours}`);
    model.dispose();
  },
);

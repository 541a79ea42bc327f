import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { bf16Matrix, bf16MatMul, bf16MatMulTransposedB } from '../../src/worker/engine/kernels/bf16-matrix';
import { chunkedHeadCrossEntropy, HeadMatrix, lossChunk } from '../../src/worker/model/chunked-cross-entropy';
import { crossEntropy, matMul } from '../../src/worker/model/ops';
import { Gpt } from '../../src/worker/model/gpt';
import { ModelConfig } from '../../src/core/model-config';
import { peakBytes } from './peak-bytes';

// The head and cross-entropy a chunk of rows at a time (Liger-Kernel's fused linear cross-entropy):
// the unchunked loss and gradients, without ever holding the [tokens × vocab] logits.

const native = 'addon' in loadAddon();
const engines = (native ? ['native', 'cpu'] : ['cpu']) as Array<'native' | 'cpu'>;

/** max |a − b| over max |b|. */
function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff === 0 ? 0 : diff / scale;
}

/** Deterministic values in (−1, 1). */
function values(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Targets in [0, vocab) with every third one -100 (masked), and the first chunk's all masked. */
function targetsOf(n: number, vocab: number, maskedRows: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (i < maskedRows || i % 3 === 0 ? -100 : (i * 7919) % vocab));
}

const fp32Head = (weight: tf.Tensor, trainable: boolean): HeadMatrix => ({
  weight,
  vocab: weight.shape[0],
  trainable,
  logits: (x, w) => matMul(x, tf.transpose(w)) as tf.Tensor2D,
  inputGradient: (dy, w) => matMul(dy, w) as tf.Tensor2D,
});

/** The unchunked loss and its gradients for x and W. */
function reference(x: tf.Tensor2D, w: tf.Tensor2D, t: tf.Tensor1D) {
  return tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => crossEntropy(matMul(a, tf.transpose(b)) as tf.Tensor2D, t))([
      x,
      w,
    ]);
    return { loss: value.dataSync()[0], dx: grads[0].dataSync(), dw: grads[1].dataSync() };
  });
}

for (const engine of engines) {
  test(`${engine}: chunked head + cross-entropy equals the unchunked loss and gradients (odd shapes, -100 targets, frozen and trainable head)`, async () => {
    await startEngine(engine);
    const [n, width, vocab, rows] = [37, 19, 53, 8];
    const x = tf.tensor2d(values(n * width, 1), [n, width]);
    const w = tf.tensor2d(values(vocab * width, 2), [vocab, width]);
    const t = tf.tensor1d(targetsOf(n, vocab, rows), 'int32');
    const want = reference(x, w, t);
    for (const trainable of [false, true]) {
      const f = (a: tf.Tensor, b?: tf.Tensor) => chunkedHeadCrossEntropy(a as tf.Tensor2D, t, fp32Head(b ?? w, trainable), rows);
      const { value, grads } = tf.valueAndGrads(f)(trainable ? [x, w] : [x]);
      const loss = value.dataSync()[0];
      assert.ok(Math.abs(loss - want.loss) < 1e-5 * want.loss, `loss ${loss} vs ${want.loss}`);
      assert.ok(relativeDiff(grads[0].dataSync(), want.dx) < 1e-5, `dx differs by ${relativeDiff(grads[0].dataSync(), want.dx)}`);
      if (trainable)
        assert.ok(relativeDiff(grads[1].dataSync(), want.dw) < 1e-5, `dW differs by ${relativeDiff(grads[1].dataSync(), want.dw)}`);
      tf.dispose([value, ...grads]);
    }
    // Every target masked: zero loss and zero gradients, not NaN.
    const none = tf.fill([n], -100, 'int32') as tf.Tensor1D;
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor) => chunkedHeadCrossEntropy(a as tf.Tensor2D, none, fp32Head(w, false), rows))([
      x,
    ]);
    assert.equal(value.dataSync()[0], 0);
    assert.ok(grads[0].dataSync().every((v) => v === 0));
    tf.dispose([x, w, t, none, value, ...grads]);
  });
}

test(
  "native: a BF16-held frozen head gives the widened head's loss and input gradient",
  { skip: native ? false : 'native engine not available' },
  async () => {
    await startEngine('native');
    const [n, width, vocab, rows] = [29, 18, 41, 6];
    const raw = values(vocab * width, 3);
    const held = bf16Matrix({ shape: [vocab, width], data: raw });
    const widened = new Float32Array(raw.length);
    new Uint32Array(widened.buffer).set(new Uint32Array(raw.buffer).map((bits) => bits & 0xffff0000));
    const x = tf.tensor2d(values(n * width, 4), [n, width]);
    const w = tf.tensor2d(widened, [vocab, width]);
    const t = tf.tensor1d(targetsOf(n, vocab, rows), 'int32');
    const want = reference(x, w, t);
    const head: HeadMatrix = {
      weight: held,
      vocab,
      trainable: false,
      logits: (a, m) => bf16MatMulTransposedB(a, m),
      inputGradient: (dy, m) => bf16MatMul(dy, m),
    };
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor) => chunkedHeadCrossEntropy(a as tf.Tensor2D, t, head, rows))([x]);
    assert.ok(Math.abs(value.dataSync()[0] - want.loss) < 1e-5 * want.loss, `loss ${value.dataSync()[0]} vs ${want.loss}`);
    assert.ok(relativeDiff(grads[0].dataSync(), want.dx) < 1e-5, `dx differs by ${relativeDiff(grads[0].dataSync(), want.dx)}`);
    tf.dispose([held, x, w, t, value, ...grads]);
  },
);

const llama = (tied: boolean, vocabSize: number): ModelConfig => ({
  vocabSize,
  context: 64,
  layers: 1,
  heads: 4,
  width: 32,
  norm: 'rmsnorm',
  dropout: 0,
  bias: false,
  llama: {
    family: 'llama',
    kvHeads: 2,
    headDim: 8,
    mlpWidth: 48,
    ropeTheta: 10000,
    qkvBias: false,
    qkNorm: false,
    tiedHead: tied,
    normEps: 1e-6,
  },
});

for (const engine of engines) {
  for (const tied of [true, false]) {
    test(`${engine}: a Llama model's training loss (${tied ? 'tied' : 'own'} head) is the unchunked one, and on native never holds [tokens × vocab] logits`, async () => {
      await startEngine(engine);
      const vocab = 40_000;
      lossChunk.floats = 32 * vocab; // chunks of 32 rows; 256 tokens' logits would be 41 MB
      const model = Gpt.initialise(llama(tied, vocab), 5);
      const [b, tt] = [4, 64];
      const ids = tf.tensor2d(
        Int32Array.from({ length: b * tt }, (_, i) => (i * 31) % vocab),
        [b, tt],
        'int32',
      );
      const targets = tf.tensor2d(targetsOf(b * tt, vocab, 5), [b, tt], 'int32');
      const vars = [...model.params.values()];
      const ours = tf.variableGrads(() => model.loss(ids, targets), vars);
      const plain = tf.variableGrads(() => crossEntropy(model.forward(ids), tf.reshape(targets, [-1]) as tf.Tensor1D), vars);
      assert.ok(Math.abs(ours.value.dataSync()[0] - plain.value.dataSync()[0]) < 1e-5 * plain.value.dataSync()[0]);
      for (const v of vars) {
        const d = relativeDiff(ours.grads[v.name].dataSync(), plain.grads[v.name].dataSync());
        assert.ok(d < 1e-4, `${v.name} differs by ${d}`);
      }
      tf.dispose([ours.value, plain.value, ...Object.values(ours.grads), ...Object.values(plain.grads)]);

      if (engine === 'native') {
        // Beyond the gradients (a tied table's two parts and their sum): chunks of logits, not all of them.
        const logitsBytes = b * tt * vocab * 4;
        const table = vocab * 32 * 4;
        const held = peakBytes(() => tf.variableGrads(() => model.loss(ids, targets), vars)) - 3 * table;
        assert.ok(held < logitsBytes / 2, `peak ${held} bytes beyond three tables, logits ${logitsBytes}`);
      }
      lossChunk.floats = 8 * 1024 * 1024;
      tf.dispose([ids, targets]);
      model.dispose();
    });
  }
}

test("the gradients come from the forward pass: each chunk's logits are computed once per step, not again in the backward pass", async () => {
  await startEngine('cpu');
  const [n, width, vocab, rows] = [37, 19, 53, 8];
  const x = tf.tensor2d(values(n * width, 5), [n, width]);
  const w = tf.tensor2d(values(vocab * width, 6), [vocab, width]);
  const t = tf.tensor1d(targetsOf(n, vocab, rows), 'int32');
  for (const trainable of [false, true]) {
    let products = 0;
    const head = fp32Head(w, trainable);
    const counted: HeadMatrix = { ...head, logits: (a, m) => (products++, head.logits(a, m)) };
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b?: tf.Tensor) =>
      chunkedHeadCrossEntropy(a as tf.Tensor2D, t, { ...counted, weight: b ?? w }, rows),
    )(trainable ? [x, w] : [x]);
    assert.equal(products, Math.ceil(n / rows), `trainable ${trainable}: head products`);
    tf.dispose([value, ...grads]);
  }
  tf.dispose([x, w, t]);
});

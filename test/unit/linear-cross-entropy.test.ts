import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { setNativeThreads, startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { bf16Matrix } from '../../src/worker/engine/kernels/bf16-matrix';
import { nativeLinearCrossEntropy } from '../../src/worker/engine/kernels/linear-cross-entropy';
import { chunkedHeadCrossEntropy, HeadMatrix } from '../../src/worker/model/chunked-cross-entropy';
import { crossEntropy, matMul } from '../../src/worker/model/ops';

// The native fused head and cross-entropy (native/linear-cross-entropy.cc): one call gives the
// loss of x·Wᵀ and its gradients for x and W, equal to tf.grads of the whole logits' loss.

const skip = 'addon' in loadAddon() ? false : 'native engine not available';
// float32 sums in other orders (chunks, GEMM blocking) against tfjs's: relative to the largest value.
const TOLERANCE = 1e-5;

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

/** Deterministic values in (−1, 1) times `scale`. */
function values(count: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}

/** Targets in [0, vocab), every third one and the first `maskedRows` -100 (ignored). */
function targetsOf(n: number, vocab: number, maskedRows: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (i < maskedRows || i % 3 === 0 ? -100 : (i * 7919) % vocab));
}

/** The same values with their low 16 bits cleared: exactly what a BF16-held matrix holds. */
function bf16Exact(v: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  new Uint32Array(out.buffer).set(new Uint32Array(v.buffer).map((bits) => bits & 0xffff0000));
  return out;
}

/** tf.grads of the unchunked loss crossEntropy(x·Wᵀ, t): its value and the gradients for x and W. */
function reference(x: tf.Tensor2D, w: tf.Tensor2D, t: tf.Tensor1D) {
  return tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => crossEntropy(matMul(a, tf.transpose(b)) as tf.Tensor2D, t))([
      x,
      w,
    ]);
    return { loss: value.dataSync()[0], dx: grads[0].dataSync(), dw: grads[1].dataSync() };
  });
}

// 61 rows, 37 of them trained, at most 7 rows' logits at a time (7 × vocab floats): a trainable
// head's chunks are of at most 7 trained rows (ignored rows are never multiplied). A frozen head's
// pass reads the vocabulary in tiles of ~1 MB of W (at most 1,024 rows), a few tasks per thread,
// each with a running softmax, merged at the end: 97 × 24 is one tile; 2,500 × 24 three tiles in
// three tasks (the last partial), in chunks of 5 rows; 5,000 × 64 on one thread five tiles in four
// tasks, the last task's running state rescaled when its second tile raises a row's max.
const [n, rows] = [61, 7];
const shapes = [
  { vocab: 97, width: 24, threads: 0 },
  { vocab: 2500, width: 24, threads: 0 },
  { vocab: 5000, width: 64, threads: 1 },
];
let [vocab, width] = [97, 24];

/** The native engine, with this shape's vocabulary, width and threads (0: as it starts). */
async function startWith(shape: (typeof shapes)[number]) {
  await startEngine('native');
  [vocab, width] = [shape.vocab, shape.width];
  setNativeThreads(shape.threads || usualThreads);
}
const usualThreads = os.availableParallelism();

function inputs(seed: number) {
  const x = tf.tensor2d(values(n * width, seed, 2), [n, width]);
  const raw = values(vocab * width, seed + 1, 2);
  const t = tf.tensor1d(targetsOf(n, vocab, 5), 'int32');
  return { x, raw, t };
}

function assertClose(label: string, got: tf.Tensor | undefined, want: ArrayLike<number>) {
  assert.ok(got, `${label} missing`);
  const d = relativeDiff(got.dataSync(), want);
  assert.ok(d < TOLERANCE, `${label} differs by ${d}`);
}

for (const shape of shapes) {
  const size = `${shape.vocab} × ${shape.width}${shape.threads ? ' on one thread' : ''}`;
  test(
    `native fused head + cross-entropy, head ${size}: a trainable float32 head gives tf.grads of the whole logits loss (loss, dx, dW)`,
    { skip },
    async () => {
      await startWith(shape);
      const { x, raw, t } = inputs(11);
      const w = tf.tensor2d(raw, [vocab, width]);
      const want = reference(x, w, t);
      const got = nativeLinearCrossEntropy(x, w, t, rows, { dx: true, dw: true })!;
      assert.ok(Math.abs(got.loss.dataSync()[0] - want.loss) < TOLERANCE * want.loss, `loss ${got.loss.dataSync()[0]} vs ${want.loss}`);
      assertClose('dx', got.dx, want.dx);
      assertClose('dW', got.dw, want.dw);
      // Rows whose targets are ignored get a zero gradient (the output is fresh heap memory).
      const dx = got.dx!.arraySync();
      for (const [i, target] of t.arraySync().entries())
        if (target < 0)
          assert.ok(
            dx[i].every((v) => v === 0),
            `row ${i}`,
          );
      tf.dispose([x, w, t, got.loss, got.dx!, got.dw!]);
    },
  );

  test(`native fused head + cross-entropy, head ${size}: a frozen float32 head gives the loss and dx, and no dW`, { skip }, async () => {
    await startWith(shape);
    const { x, raw, t } = inputs(21);
    const w = tf.tensor2d(raw, [vocab, width]);
    const want = reference(x, w, t);
    const got = nativeLinearCrossEntropy(x, w, t, rows, { dx: true, dw: false })!;
    assert.ok(Math.abs(got.loss.dataSync()[0] - want.loss) < TOLERANCE * want.loss);
    assertClose('dx', got.dx, want.dx);
    assert.equal(got.dw, undefined);
    // The loss alone (evaluation): no gradients made.
    const lossOnly = nativeLinearCrossEntropy(x, w, t, rows, { dx: false, dw: false })!;
    assert.ok(Math.abs(lossOnly.loss.dataSync()[0] - want.loss) < TOLERANCE * want.loss);
    assert.equal(lossOnly.dx, undefined);
    tf.dispose([x, w, t, got.loss, got.dx!, lossOnly.loss]);
  });

  test(
    `native fused head + cross-entropy, head ${size}: a frozen BF16-held head gives the widened head's loss and dx`,
    { skip },
    async () => {
      await startWith(shape);
      const { x, raw, t } = inputs(31);
      const held = bf16Matrix({ shape: [vocab, width], data: raw });
      const widened = tf.tensor2d(bf16Exact(raw), [vocab, width]);
      const want = reference(x, widened, t);
      const got = nativeLinearCrossEntropy(x, held, t, rows, { dx: true, dw: true })!;
      assert.ok(Math.abs(got.loss.dataSync()[0] - want.loss) < TOLERANCE * want.loss, `loss ${got.loss.dataSync()[0]} vs ${want.loss}`);
      assertClose('dx', got.dx, want.dx);
      assert.equal(got.dw, undefined, 'a BF16 head is frozen');
      tf.dispose([x, held, widened, t, got.loss, got.dx!]);
    },
  );
}

test('native fused head + cross-entropy: every target ignored gives a zero loss and zero gradients, not NaN', { skip }, async () => {
  await startWith(shapes[0]);
  const { x, raw } = inputs(41);
  const w = tf.tensor2d(raw, [vocab, width]);
  const none = tf.fill([n], -100, 'int32') as tf.Tensor1D;
  const got = nativeLinearCrossEntropy(x, w, none, rows, { dx: true, dw: true })!;
  assert.equal(got.loss.dataSync()[0], 0);
  assert.ok(got.dx!.dataSync().every((v) => v === 0));
  assert.ok(got.dw!.dataSync().every((v) => v === 0));
  tf.dispose([x, w, none, got.loss, got.dx!, got.dw!]);
});

test(
  'native: the chunked loss runs as the one fused call (no tfjs head products) and scales by an incoming gradient',
  { skip },
  async () => {
    await startWith(shapes[0]);
    const { x, raw, t } = inputs(51);
    const w = tf.tensor2d(raw, [vocab, width]);
    const want = reference(x, w, t);
    let products = 0;
    const head = (weight: tf.Tensor): HeadMatrix => ({
      weight,
      vocab,
      trainable: true,
      logits: (a, m) => (products++, matMul(a, tf.transpose(m)) as tf.Tensor2D),
      inputGradient: (dy, m) => matMul(dy, m) as tf.Tensor2D,
    });
    // 3·loss: the gradients made in the forward pass are scaled by the incoming 3.
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
      tf.mul(chunkedHeadCrossEntropy(a as tf.Tensor2D, t, head(b), rows), 3),
    )([x, w]);
    assert.equal(products, 0, 'the tfjs head was called');
    assert.ok(Math.abs(value.dataSync()[0] - 3 * want.loss) < 3 * TOLERANCE * want.loss);
    assertClose(
      'dx',
      grads[0],
      Float32Array.from(want.dx, (v) => 3 * v),
    );
    assertClose(
      'dW',
      grads[1],
      Float32Array.from(want.dw, (v) => 3 * v),
    );
    tf.dispose([x, w, t, value, ...grads]);
  },
);

test(
  'native: a step of the chunked loss leaves no tensor behind (its gradients made in the forward pass are handed over, not kept)',
  { skip },
  async () => {
    await startWith(shapes[0]);
    const { x, raw, t } = inputs(61);
    const w = tf.tensor2d(raw, [vocab, width]);
    const head: HeadMatrix = {
      weight: w,
      vocab,
      trainable: true,
      logits: (a, m) => matMul(a, tf.transpose(m)) as tf.Tensor2D,
      inputGradient: (dy, m) => matMul(dy, m) as tf.Tensor2D,
    };
    // x and W also feed another term (as a tied head's W is also the embedding): tfjs adds the
    // gradients of their two uses and disposes only what its own scopes made.
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      tf.add(chunkedHeadCrossEntropy(a as tf.Tensor2D, t, { ...head, weight: b }, rows), tf.mul(tf.add(tf.sum(a), tf.sum(b)), 0));
    const step = () => {
      const { value, grads } = tf.valueAndGrads(loss)([x, w]);
      tf.dispose([value, ...grads]);
    };
    step();
    const before = tf.memory();
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numBytes, before.numBytes, 'bytes held after three more steps');
    assert.equal(tf.memory().numTensors, before.numTensors);
    tf.dispose([x, w, t]);
  },
);

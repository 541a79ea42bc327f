import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { callKernel } from '../../src/worker/engine/kernels/kernel-module';
import { transposed } from '../../src/worker/engine/kernels/linear';

before(async () => {
  await startEngine('wasm');
});

test('the kernels module’s exp is within 2 float ulps of Math.exp, clamps instead of overflowing, and passes NaN on', () => {
  const xs = new Float32Array(20001);
  for (let i = 0; i < xs.length; i++) xs[i] = -87 + (i * 175) / (xs.length - 1);
  const x = tf.tensor1d(Array.from(xs).concat([-1000, 1000, NaN]));
  const [y] = callKernel([x], [x.shape], 0, (k, [xAt, yAt]) => k.expArray(xAt, yAt, x.size));
  const got = y.dataSync();
  for (let i = 0; i < xs.length; i++) {
    const want = Math.exp(xs[i]);
    const ulp = Math.pow(2, Math.floor(Math.log2(want)) - 23);
    assert.ok(Math.abs(got[i] - want) <= 2 * ulp, `exp(${xs[i]}) = ${got[i]}, want ${want}`);
  }
  const [lo, hi, nan] = got.slice(xs.length);
  assert.ok(lo > 0 && lo < 1e-37, `exp(-1000) = ${lo}`);
  assert.ok(Number.isFinite(hi) && hi > 1e38, `exp(1000) = ${hi}`);
  assert.ok(Number.isNaN(nan));
  tf.dispose([x, y]);
});

test('transpose kernel equals tf.transpose on whole-vector and ragged shapes', () => {
  for (const [r, c] of [
    [8, 12],
    [7, 5],
    [768, 128],
    [13, 24],
    [1, 9],
    [6, 1],
  ]) {
    const x = tf.randomNormal([r, c], 0, 1, 'float32', r * 100 + c);
    const want = tf.transpose(x);
    const got = transposed(x);
    assert.deepEqual(got.shape, [c, r]);
    assert.deepEqual(Array.from(got.dataSync()), Array.from(want.dataSync()), `${r}×${c}`);
    tf.dispose([x, want, got]);
  }
});

test('column-sum kernel (bias gradients) equals tf.sum over rows', () => {
  for (const [r, c] of [
    [768, 512],
    [5, 7],
    [3, 18],
  ]) {
    const x = tf.randomNormal([r, c], 0, 1, 'float32', r + c);
    const want = tf.sum(x, 0).dataSync();
    const [got] = callKernel([x], [[c]], 0, (k, [xAt, sAt]) => k.columnSums(xAt, sAt, r, c));
    const g = got.dataSync();
    for (let j = 0; j < c; j++)
      assert.ok(Math.abs(g[j] - want[j]) < 1e-4 * Math.sqrt(r), `column ${j} of ${r}×${c}: ${g[j]} vs ${want[j]}`);
    tf.dispose([x, got]);
  }
});

test('kernel outputs are ordinary tensors of the backend: disposing them frees their memory', () => {
  const before = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  tf.tidy(() => {
    const x = tf.ones([64, 32]);
    transposed(transposed(x));
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(tf.memory().numBytes, bytes);
});

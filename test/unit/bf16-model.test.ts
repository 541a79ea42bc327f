import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { bf16Embedding, bf16Matrix, bf16MatMulTransposedB, heldAsBf16 } from '../../src/worker/engine/kernels/bf16-matrix';
import { Gpt, disposeCache, newCache } from '../../src/worker/model/gpt';
import { frozenModel, loadModel } from '../../src/worker/jobs/load-model';
import { readModelFolder } from '../../src/core/model-folder';
import { modelNames } from '../../src/core/weight-table';
import { REPO } from './helpers';

// A BF16 Llama-family folder opened to look at and complete with keeps its matrices in BF16 on the
// native engine (kernels/bf16-matrix.ts, native/bf16.cc): the same numbers as the float32 widening.
const loaded = loadAddon();
const missing = 'why' in loaded ? loaded.why : undefined;
const skip = missing && process.env.CI !== 'true' ? `native engine not available: ${missing}` : false;

before(async () => {
  if (!skip) await startEngine('native');
});

/** max |a − b| over max |b| (0 when they are equal, zeros too). */
function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff === 0 ? 0 : diff / scale;
}

for (const family of ['qwen2', 'qwen3']) {
  test(
    `an opened BF16 ${family} folder holds its matrices as BF16 (half the bytes) and gives the float32 model's logits, forward and decode`,
    { skip },
    async () => {
      const dir = join(REPO, 'test/fixtures/hf-llama', family);
      const held = await loadModel(dir, 'native');
      const files = readModelFolder(dir);
      const widened = Gpt.fromWeights(files.config, files.weights);
      try {
        const matrices = [...held.model.frozen].filter(([name]) => files.weights.get(name)!.shape.length === 2);
        assert.ok(matrices.length > 0 && matrices.every(([, w]) => heldAsBf16(w)), 'every matrix is held as BF16');
        for (const [name, w] of matrices) assert.equal(4 * w.size, 2 * files.weights.get(name)!.data.length, `${name}: 2 bytes a value`);

        const ids = held.tokenizer.encode('안녕하세요, the quick brown fox 🦊 jumps.\r\n').slice(0, 24);
        const input = tf.tensor2d(ids, [1, ids.length], 'int32');
        const want = await widened.forward(input).data();
        const got = await held.model.forward(input).data();
        assert.ok(relativeDiff(got, want) < 1e-5, `forward: logits differ by ${relativeDiff(got, want)} of their scale`);

        // The fused decode on BF16 rows: the prompt at once, then token by token.
        const cache = newCache();
        const vocab = files.config.vocabSize;
        const split = ids.length - 3;
        const steps = [ids.slice(0, split), ...ids.slice(split).map((id) => [id])];
        let end = 0;
        for (const step of steps) {
          end += step.length;
          const logits = await held.model.next(step, cache).data();
          const row = want.slice((end - 1) * vocab, end * vocab);
          assert.ok(relativeDiff(logits, row) < 1e-5, `decode at ${end}: logits differ by ${relativeDiff(logits, row)} of their scale`);
        }
        assert.ok(cache.native, 'the fused decode ran');
        disposeCache(cache);
        input.dispose();
      } finally {
        held.model.dispose();
        widened.dispose();
      }
    },
  );
}

test(
  'reading a BF16 folder puts its matrices straight into the engine as the bits in the file: none is left on the host or widened',
  { skip },
  async () => {
    const dir = join(REPO, 'test/fixtures/hf-llama/qwen2'); // BF16 in 3 shards
    const stored = readModelFolder(dir).weights;
    const { files, model } = frozenModel((destination) => readModelFolder(dir, undefined, destination));
    try {
      assert.deepEqual(
        [...files.weights.values()].filter((t) => t.shape.length === 2),
        [],
        'no matrix read to the host',
      );
      for (const [name, t] of stored) {
        if (t.shape.length !== 2) continue;
        const held = model.frozen.get(name)!;
        assert.ok(heldAsBf16(held), `${name} held as BF16`);
        assert.deepEqual(new Uint16Array((await held.data()).buffer), t.bf16, `${name}: the file's bits`);
      }
    } finally {
      model.dispose();
    }
  },
);

test('x·Wᵀ with W held as BF16 and its input gradient dy·W equal the float32 products of the widened W', { skip }, async () => {
  const [n, inputs, outputs] = [5, 70, 150];
  const bf16Values = (count: number, seed: number) => {
    const bits = new Uint32Array(Float32Array.from({ length: count }, (_, i) => Math.sin(seed * (i + 1)) * 0.8).buffer);
    return new Float32Array(bits.map((b) => b & 0xffff0000).buffer);
  };
  const host = { shape: [outputs, inputs], data: bf16Values(outputs * inputs, 3) };
  const w = bf16Matrix(host);
  const wide = tf.tensor2d(host.data, [outputs, inputs]);
  const x = tf.tensor2d(
    Float32Array.from({ length: n * inputs }, (_, i) => Math.cos(i * 0.37)),
    [n, inputs],
  );
  const dy = tf.tensor2d(
    Float32Array.from({ length: n * outputs }, (_, i) => Math.sin(i * 0.11)),
    [n, outputs],
  );
  const [want, wantDx] = [tf.matMul(x, wide, false, true), tf.matMul(dy, wide)];
  // (The gradient frees the one it is given, as every kernel's does: freeing-custom-grad.ts.)
  const [got, gotDx] = [bf16MatMulTransposedB(x, w), tf.grad((v: tf.Tensor) => bf16MatMulTransposedB(v, w))(x, tf.clone(dy))];
  assert.ok(relativeDiff(await got.data(), await want.data()) < 1e-5);
  assert.ok(relativeDiff(await gotDx.data(), await wantDx.data()) < 1e-5);
  // One row (a generation step) goes through the dot-product path instead of BLAS: another order of the sums.
  const one = tf.slice(x, [2, 0], [1, inputs]);
  const [oneGot, oneWant] = [await bf16MatMulTransposedB(one, w).data(), await tf.matMul(one, wide, false, true).data()];
  assert.ok(relativeDiff(oneGot, oneWant) < 1e-5);
  const rows = bf16Embedding(w, tf.tensor1d([149, 0, 7], 'int32'));
  assert.deepEqual(Array.from(await rows.data()), [
    ...host.data.slice(149 * inputs, 150 * inputs),
    ...host.data.slice(0, inputs),
    ...host.data.slice(7 * inputs, 8 * inputs),
  ]);
  assert.throws(() => bf16Embedding(w, tf.tensor1d([150], 'int32')), /a token id is outside the vocabulary/);
  tf.dispose([w, wide, x, dy, got, gotDx, want, wantDx, one, rows]);
});

test(
  'LoRA on a BF16 qwen2 folder holds the frozen base as BF16 and gives the loss and adapter gradients of the widened base',
  { skip },
  async () => {
    const files = readModelFolder(join(REPO, 'test/fixtures/hf-llama/qwen2'));
    const names = modelNames(files.config);
    const modules = [0, 1].flatMap((i) => [names.block(i).q!, names.block(i).v!, names.block(i).down!]);
    const lora = { modules, r: 4, scale: 2, dropout: 0, seed: 5 };
    const held = Gpt.fromWeights(files.config, files.weights, lora);
    const widened = Gpt.fromWeights(files.config, files.weights, lora, true);
    try {
      assert.ok(heldAsBf16(held.frozen.get(`${modules[0]}.weight`)!) && heldAsBf16(held.frozen.get(`${names.embedding}.weight`)!));
      assert.ok(![...widened.frozen.values()].some(heldAsBf16));
      const ids = tf.tensor2d([[5, 17, 300, 2, 41, 9, 77, 1000]], [1, 8], 'int32');
      const targets = tf.tensor2d([[17, 300, 2, 41, 9, 77, 1000, 3]], [1, 8], 'int32');
      const run = (model: Gpt) => tf.variableGrads(() => model.loss(ids, targets), [...model.params.values()]);
      const [got, want] = [run(held), run(widened)];
      assert.ok(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0]) < 1e-5 * want.value.dataSync()[0]);
      const gradients = (g: typeof got) => Object.values(g.grads);
      for (const [i, g] of gradients(got).entries()) {
        const w = await gradients(want)[i].data();
        assert.ok(relativeDiff(await g.data(), w) < 1e-5, `gradient ${i} differs by ${relativeDiff(await g.data(), w)} of its scale`);
      }
    } finally {
      held.dispose();
      widened.dispose();
    }
  },
);

test('the portable and AVX2 BF16 dot products give the same numbers as the widest one (each path in its own process)', { skip }, () => {
  for (const path of ['portable', 'avx2']) {
    const run = spawnSync(process.execPath, ['--test', '--test-name-pattern=x·Wᵀ with W held|an opened BF16', __filename], {
      // (NODE_TEST_CONTEXT would make the child report to this runner instead of printing TAP.)
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, CORPUS_LAB_BF16_DOT: path },
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(
      run.status,
      0,
      `${path}: ${run.stdout
        .split('\n')
        .filter((l) => /not ok|error/.test(l))
        .join(' ')}`,
    );
    const ran = run.stdout.split('\n').filter((l) => /^ok \d+ - /.test(l) && !l.includes('# SKIP'));
    assert.equal(ran.length, 3, `${path}: the three tests ran`);
  }
});

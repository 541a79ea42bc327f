import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt, KERNEL_OPS, TFJS_OPS, disposeCache, newCache } from '../../src/worker/model/gpt';
import { matMul, embed } from '../../src/worker/model/ops';
import { ModelConfig } from '../../src/core/model-config';
import { maxAbsDiff } from './helpers';

const small: ModelConfig = { vocabSize: 11, context: 8, layers: 2, heads: 2, width: 8, norm: 'layernorm', dropout: 0, bias: true };

before(async () => {
  await startEngine('wasm');
});

test('matMul gradients equal tfjs stock matMul gradients (2-D and batched)', async () => {
  for (const [sa, sb] of [
    [
      [5, 3],
      [3, 4],
    ],
    [
      [2, 5, 3],
      [2, 3, 4],
    ],
  ] as const) {
    const a = tf.randomNormal([...sa], 0, 1, 'float32', 1);
    const b = tf.randomNormal([...sb], 0, 1, 'float32', 2);
    const w = tf.randomNormal([...sa.slice(0, -1), sb[sb.length - 1]], 0, 1, 'float32', 3);
    const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y), w)))([a, b]);
    const stock = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), w)))([a, b]);
    for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(await ours[i].data(), await stock[i].data()) < 1e-5);
  }
});

test('embedding gradient equals onehot·table gradient (repeated ids accumulate)', async () => {
  const table = tf.randomNormal([6, 4], 0, 1, 'float32', 4) as tf.Tensor2D;
  const ids = tf.tensor1d([1, 3, 1, 5, 1], 'int32');
  const w = tf.randomNormal([5, 4], 0, 1, 'float32', 5);
  const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embed(t as tf.Tensor2D, ids), w)))(table);
  const reference = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.cast(tf.oneHot(ids, 6), 'float32'), t), w)))(table);
  assert.ok(maxAbsDiff(await ours.data(), await reference.data()) < 1e-5);
});

test('loss at initialisation is close to ln(vocab) and gradients reach every parameter', async () => {
  const model = Gpt.initialise(small, 3);
  const x = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], [1, 8], 'int32');
  const y = tf.tensor2d([[2, 3, 4, 5, 6, 7, 8, 9]], [1, 8], 'int32');
  const { value, grads } = tf.variableGrads(() => model.loss(x, y), [...model.params.values()]);
  assert.ok(Math.abs((await value.data())[0] - Math.log(small.vocabSize)) < 0.1);
  for (const [name, v] of model.params) {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${name}`);
    const norm = (await tf.norm(g).data())[0];
    assert.ok(Number.isFinite(norm) && norm > 0, `zero gradient for ${name}`);
  }
  model.dispose();
});

test('loss gradient matches finite differences for a few weights', async () => {
  const model = Gpt.initialise({ ...small, norm: 'dyt' }, 9);
  const x = tf.tensor2d([[3, 1, 4, 1, 5, 9, 2, 6]], [1, 8], 'int32');
  const y = tf.tensor2d([[1, 4, 1, 5, 9, 2, 6, 5]], [1, 8], 'int32');
  const { grads } = tf.variableGrads(() => model.loss(x, y), [...model.params.values()]);
  const lossNow = async () => (await tf.tidy(() => model.loss(x, y)).data())[0];
  for (const name of [
    'transformer.wte.weight',
    'transformer.h.1.attn.c_attn.weight',
    'transformer.h.0.ln_1.alpha',
    'transformer.h.0.mlp.c_fc.bias',
  ]) {
    const v = model.params.get(name)!;
    const analytic = await grads[v.name].data();
    const values = (await v.data()) as Float32Array;
    const i = values.length > 3 ? 3 : 0;
    const eps = 1e-2;
    const bumped = Float32Array.from(values);
    bumped[i] = values[i] + eps;
    v.assign(tf.tensor(bumped, v.shape));
    const up = await lossNow();
    bumped[i] = values[i] - eps;
    v.assign(tf.tensor(bumped, v.shape));
    const down = await lossNow();
    v.assign(tf.tensor(values, v.shape));
    const numeric = (up - down) / (2 * eps);
    assert.ok(Math.abs(numeric - analytic[i]) < 2e-3 + 0.05 * Math.abs(numeric), `${name}: numeric ${numeric} vs analytic ${analytic[i]}`);
  }
  model.dispose();
});

test('KV-cache decoding gives the same logits as the full forward pass', async () => {
  const model = Gpt.initialise(small, 5);
  const ids = [1, 5, 2, 7, 3, 3, 9, 0];
  const full = await tf.tidy(() => model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'))).data();
  const cache = newCache();
  let logits = model.next(ids.slice(0, 3), cache);
  for (let pos = 3; pos <= ids.length; pos++) {
    const got = await logits.data();
    assert.ok(maxAbsDiff(got, full.subarray((pos - 1) * small.vocabSize, pos * small.vocabSize)) < 1e-4, `position ${pos}`);
    logits.dispose();
    if (pos < ids.length) logits = model.next([ids[pos]], cache);
  }
  disposeCache(cache);
  model.dispose();
});

test('same seed gives the same weights; weights round-trip through fromWeights', async () => {
  const a = Gpt.initialise(small, 42);
  const b = Gpt.initialise(small, 42);
  const c = Gpt.initialise(small, 43);
  const wa = await a.weights();
  const wb = await b.weights();
  const wc = await c.weights();
  assert.deepEqual(wa.get('transformer.wte.weight')!.data, wb.get('transformer.wte.weight')!.data);
  assert.notDeepEqual(wa.get('transformer.wte.weight')!.data, wc.get('transformer.wte.weight')!.data);
  const d = Gpt.fromWeights(small, wa);
  const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
  assert.equal(maxAbsDiff(await a.forward(ids).data(), await d.forward(ids).data()), 0);
  for (const m of [a, b, c, d]) m.dispose();
});

test('training forward/backward does not leak tensors', async () => {
  const model = Gpt.initialise({ ...small, dropout: 0.1 }, 1);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
      tf.variableGrads(() => model.loss(x, x, i), [...model.params.values()]);
    });
  }
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('concurrent engine starts share one backend (no fallback to cpu)', async () => {
  const infos = await Promise.all([startEngine('auto'), startEngine('auto'), startEngine('auto')]);
  // wasm started in before(); auto keeps the running engine (native runs on the wasm backend too)
  for (const i of infos) assert.ok(i === infos[0] && ['wasm', 'native'].includes(i.backend), i.backend);
  assert.equal(tf.getBackend(), 'wasm');
});

test('fused kernels (attention, GELU, layer norm, linear layers, output head): same loss and gradients as the tfjs ops (tiny preset shape, and a small odd one)', async () => {
  const configs: [ModelConfig, number][] = [
    [{ vocabSize: 65, context: 64, layers: 2, heads: 4, width: 128, norm: 'layernorm', dropout: 0, bias: true }, 3],
    [{ vocabSize: 13, context: 12, layers: 1, heads: 3, width: 24, norm: 'layernorm', dropout: 0, bias: true }, 2],
    // widths that are not whole SIMD vectors: the kernels' scalar tails (attention falls back to tfjs ops)
    [{ vocabSize: 13, context: 5, layers: 1, heads: 3, width: 18, norm: 'layernorm', dropout: 0, bias: true }, 3],
  ];
  for (const [config, batch] of configs) {
    const model = Gpt.initialise(config, 5);
    const n = batch * config.context;
    const ids = tf.tensor2d(
      Array.from({ length: n }, (_, i) => (i * 7 + 3) % config.vocabSize),
      [batch, config.context],
      'int32',
    );
    const targets = tf.tensor2d(
      Array.from({ length: n }, (_, i) => (i * 5 + 1) % config.vocabSize),
      [batch, config.context],
      'int32',
    );
    const vars = [...model.params.values()];
    const run = async (composite: boolean) => {
      model.ops = composite ? TFJS_OPS : KERNEL_OPS;
      const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), vars);
      const out = { loss: (await value.data())[0], grads: await Promise.all(vars.map(async (v) => grads[v.name].data())) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const fused = await run(false);
    const composite = await run(true);
    assert.ok(Math.abs(fused.loss - composite.loss) < 1e-5, `loss ${fused.loss} vs ${composite.loss}`);
    vars.forEach((v, i) => {
      const scale = Math.max(1e-3, ...Array.from(composite.grads[i], Math.abs));
      assert.ok(maxAbsDiff(fused.grads[i], composite.grads[i]) / scale < 1e-4, `gradient of ${v.name}`);
    });
    tf.dispose([ids, targets]);
    model.dispose();
  }
});

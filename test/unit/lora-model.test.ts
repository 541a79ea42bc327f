import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt, KERNEL_OPS, LoraOptions, TFJS_OPS } from '../../src/worker/model/gpt';
import { AdamW } from '../../src/worker/train/adamw';
import { ModelConfig } from '../../src/core/model-config';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/core/train-options';
import { LoraAdapter, loraParamName, loraScale, matchTargets, mergeLora } from '../../src/core/lora-adapter';
import { parameterCount } from '../../src/core/weight-table';
import { maxAbsDiff } from './helpers';

const config: ModelConfig = { vocabSize: 13, context: 8, layers: 2, heads: 2, width: 16, norm: 'layernorm', dropout: 0, bias: true };
const ALL = ['c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'];

let ids: tf.Tensor2D;
let targets: tf.Tensor2D;
before(async () => {
  await startEngine('wasm');
  ids = tf.tensor2d(
    [
      [1, 2, 3, 4, 5, 6, 7, 8],
      [3, 1, 4, 1, 5, 9, 2, 6],
    ],
    [2, 8],
    'int32',
  );
  targets = tf.tensor2d(
    [
      [2, 3, 4, 5, 6, 7, 8, 9],
      [1, 4, 1, 5, 9, 2, 6, 5],
    ],
    [2, 8],
    'int32',
  );
});

function lora(
  settings: { r: number; alpha: number; rslora?: boolean; dropout?: number },
  targetNames = ALL,
  from?: LoraOptions['from'],
): LoraOptions {
  const scale = loraScale({ r: settings.r, alpha: settings.alpha, rslora: settings.rslora ?? false });
  return { modules: matchTargets(config, targetNames), r: settings.r, scale, dropout: settings.dropout ?? 0, seed: 5, from };
}

async function baseWeights() {
  const m = Gpt.initialise(config, 11);
  const w = await m.weights();
  m.dispose();
  return w;
}

test("LoRA at step 0: the logits equal the base model's exactly; A is kaiming-uniform, B zero; only A and B are trainable", async () => {
  const weights = await baseWeights();
  const base = Gpt.fromWeights(config, weights);
  const adapted = Gpt.fromWeights(config, weights, lora({ r: 4, alpha: 8 }));
  for (const ops of [TFJS_OPS, KERNEL_OPS]) {
    base.ops = adapted.ops = ops;
    const [a, b] = [base.forward(ids), adapted.forward(ids)];
    assert.deepEqual(await adapted.forward(ids).data(), await a.data());
    assert.deepEqual(await b.data(), await a.data());
  }
  const modules = matchTargets(config, ALL);
  assert.deepEqual([...adapted.params.keys()].sort(), modules.flatMap((m) => [loraParamName(m, 'A'), loraParamName(m, 'B')]).sort());
  const a0 = adapted.params.get(loraParamName('transformer.h.0.mlp.c_proj', 'A'))!;
  assert.deepEqual(a0.shape, [4, 64]);
  const values = await a0.data();
  const bound = 1 / Math.sqrt(64);
  assert.ok(values.every((v) => Math.abs(v) <= bound) && Math.max(...values.map(Math.abs)) > 0.8 * bound, 'A ~ U(-1/√in, 1/√in)');
  assert.ok((await adapted.params.get(loraParamName('transformer.h.0.mlp.c_proj', 'B'))!.data()).every((v) => v === 0));
  assert.deepEqual([...adapted.frozen.keys()], [...base.params.keys()]);
  base.dispose();
  adapted.dispose();
});

test('LoRA with trained A and B equals the merged weights (mergeLora) within 1e-5, also with rsLoRA, on the tfjs ops and the kernels', async () => {
  const weights = await baseWeights();
  for (const rslora of [false, true]) {
    const targets = ['c_attn', 'mlp.c_fc'];
    const modules = matchTargets(config, targets);
    const from = new Map(
      modules.map((m, i) => {
        const [inputs, outputs] = weights.get(`${m}.weight`)!.shape;
        const a = tf.randomNormal([3, inputs], 0, 0.3, 'float32', 20 + i);
        const b = tf.randomNormal([outputs, 3], 0, 0.3, 'float32', 40 + i);
        const out = {
          a: { shape: a.shape.slice(), data: a.dataSync() as Float32Array },
          b: { shape: b.shape.slice(), data: b.dataSync() as Float32Array },
        };
        tf.dispose([a, b]);
        return [m, out] as const;
      }),
    );
    const settings = { r: 3, alpha: 6, rslora, targets, dropout: 0 };
    const adapter: LoraAdapter = { settings, layers: from };
    const merged = Gpt.fromWeights(config, mergeLora(weights, adapter));
    const adapted = Gpt.fromWeights(config, weights, lora(settings, targets, from));
    for (const ops of [TFJS_OPS, KERNEL_OPS]) {
      merged.ops = adapted.ops = ops;
      const diff = maxAbsDiff(await adapted.forward(ids).data(), await merged.forward(ids).data());
      assert.ok(diff < 1e-5, `rslora ${rslora}: ${diff}`);
    }
    const plain = Gpt.fromWeights(config, weights);
    assert.ok(maxAbsDiff(await adapted.forward(ids).data(), await plain.forward(ids).data()) > 1e-3, 'the adapter changes the logits');
    for (const m of [merged, adapted, plain]) m.dispose();
  }
});

test('training LoRA moves only A and B: the base weights are unchanged, AdamW keeps state for the adapters alone, and the loss falls', async () => {
  const weights = await baseWeights();
  const model = Gpt.fromWeights(config, weights, lora({ r: 2, alpha: 4, dropout: 0.1 }));
  const optimizer = new AdamW(model.params, DEFAULT_TRAIN_OPTIONS, model.decayed);
  const moments = await optimizer.moments();
  assert.deepEqual([...moments.keys()].sort(), [...model.params.keys()].flatMap((n) => [`m.${n}`, `v.${n}`]).sort());
  const losses: number[] = [];
  for (let step = 1; step <= 30; step++) {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => model.loss(ids, targets, step), [...model.params.values()]);
      const byName: Record<string, tf.Tensor> = {};
      for (const [name, v] of model.params) byName[name] = grads[v.name];
      optimizer.apply(byName, 1e-2, step, tf.scalar(1));
      return value;
    });
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  assert.ok(losses[29] < losses[0] - 0.1, `loss ${losses[0]} → ${losses[29]}`);
  for (const [name, t] of model.frozen) assert.deepEqual(await t.data(), weights.get(name)!.data, `${name} changed`);
  const b = await model.params.get(loraParamName('transformer.h.1.attn.c_proj', 'B'))!.data();
  assert.ok(
    b.some((v) => v !== 0),
    'B trained',
  );
  assert.equal(
    parameterCount(config),
    [...model.frozen.values()].reduce((n, t) => n + t.size, 0),
  );
  optimizer.dispose();
  model.dispose();
});

test('LoRA gradients of A and B: the kernels (frozen base computing only input gradients) equal the tfjs ops', async () => {
  const weights = await baseWeights();
  const from: LoraOptions['from'] = new Map();
  for (const m of matchTargets(config, ALL)) {
    const [inputs, outputs] = weights.get(`${m}.weight`)!.shape;
    const a = Float32Array.from({ length: 2 * inputs }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: 2 * outputs }, (_, i) => Math.cos(i) / 4);
    from.set(m, { a: { shape: [2, inputs], data: a }, b: { shape: [outputs, 2], data: b } });
  }
  const model = Gpt.fromWeights(config, weights, lora({ r: 2, alpha: 4 }, ALL, from));
  const grads = async (ops: typeof TFJS_OPS) => {
    model.ops = ops;
    const { grads: g } = tf.variableGrads(() => model.loss(ids, targets), [...model.params.values()]);
    return Promise.all([...model.params.values()].map((v) => g[v.name].data()));
  };
  const [a, b] = [await grads(TFJS_OPS), await grads(KERNEL_OPS)];
  a.forEach((g, i) => assert.ok(maxAbsDiff(g, b[i]) < 1e-4 && g.some((v) => v !== 0), [...model.params.keys()][i]));
  // Finite differences through the frozen layers above: an A of the first block.
  const name = loraParamName('transformer.h.0.attn.c_attn', 'A');
  const index = [...model.params.keys()].indexOf(name);
  const v = model.params.get(name)!;
  const lossAt = (delta: number, k: number) => {
    const values = v.dataSync().slice();
    values[k] += delta;
    v.assign(tf.tensor(values, v.shape));
    const l = model.loss(ids, targets).dataSync()[0];
    values[k] -= delta;
    v.assign(tf.tensor(values, v.shape));
    return l;
  };
  for (const k of [0, 5, 17]) {
    const numeric = (lossAt(1e-2, k) - lossAt(-1e-2, k)) / 2e-2;
    assert.ok(
      Math.abs(numeric - b[index][k]) < 2e-3 + 0.05 * Math.abs(numeric),
      `dL/dA[${k}]: ${b[index][k]} vs finite difference ${numeric}`,
    );
  }
  model.dispose();
});

test("LoRA dropout applies to the adapter's input only when training", async () => {
  const weights = await baseWeights();
  const targets = ['mlp.c_fc'];
  const modules = matchTargets(config, targets);
  const from: LoraOptions['from'] = new Map();
  for (const m of modules) {
    const [inputs, outputs] = weights.get(`${m}.weight`)!.shape;
    from.set(m, {
      a: { shape: [2, inputs], data: new Float32Array(2 * inputs).fill(0.1) },
      b: { shape: [outputs, 2], data: new Float32Array(outputs * 2).fill(0.1) },
    });
  }
  const model = Gpt.fromWeights(config, weights, lora({ r: 2, alpha: 2, dropout: 0.5 }, targets, from));
  const evalA = await model.forward(ids).data();
  assert.deepEqual(await model.forward(ids).data(), evalA);
  assert.ok(maxAbsDiff(await model.forward(ids, { dropoutSeed: 3 }).data(), evalA) > 1e-4);
  model.dispose();
});

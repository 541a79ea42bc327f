import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon } from '../../src/worker/engine/native';
import { nativeLlamaBlock } from '../../src/worker/engine/kernels/llama-block';
import { ModelConfig } from '../../src/core/model-config';
import { NamedTensors } from '../../src/core/tensor';
import { weightTable } from '../../src/core/weight-table';
import { loraModuleShapes } from '../../src/core/lora-adapter';
import { heldAsBf16 } from '../../src/worker/engine/kernels/bf16-matrix';
import { Gpt, NATIVE_KERNEL_OPS, NATIVE_OPS, OpSet, TFJS_OPS } from '../../src/worker/model/gpt';

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

/** Random weights of a model (matrices' values BF16 ones with `bf16`), norm weights away from 1 and biases from 0. */
function randomWeights(config: ModelConfig, bf16: boolean): NamedTensors {
  const out: NamedTensors = new Map();
  [...weightTable(config)].forEach(([name, { shape }], i) => {
    const matrix = shape.length === 2;
    const data = tf.tidy(() => tf.randomNormal(shape, matrix ? 0 : 0.5, matrix ? 0.1 : 0.3, 'float32', i + 1).dataSync() as Float32Array);
    if (bf16 && matrix) new Uint32Array(data.buffer).forEach((bits, j, all) => (all[j] = bits & 0xffff0000));
    out.set(name, { shape, data });
  });
  return out;
}

/** Loss and the adapters' gradients of a LoRA model (its base held as BF16 with `bf16`) on `ops`. */
function loraRun(
  config: ModelConfig,
  modules: string[],
  bf16: boolean,
  ops: OpSet,
): { loss: number; grads: Map<string, Float32Array>; held: boolean } {
  const r = 3;
  const shapes = loraModuleShapes(config);
  const from = new Map(
    modules.map((m, i) => {
      const [inputs, outputs] = shapes.get(m)!;
      const values = (shape: number[], seed: number) => ({
        shape,
        data: tf.tidy(() => tf.randomNormal(shape, 0, 0.2, 'float32', seed).dataSync() as Float32Array),
      });
      return [m, { a: values([r, inputs], 2 * i + 1), b: values([outputs, r], 2 * i + 2) }];
    }),
  );
  const model = Gpt.fromWeights(config, randomWeights(config, bf16), { modules, r, scale: 1.5, dropout: 0, seed: 1, from }, !bf16);
  model.ops = ops;
  const [b, t] = [3, config.context];
  const ids = tf.tensor2d(
    Array.from({ length: b * t }, (_, i) => (i * 7 + 3) % config.vocabSize),
    [b, t],
    'int32',
  );
  const targets = tf.tensor2d(
    Array.from({ length: b * t }, (_, i) => (i * 5 + 1) % config.vocabSize),
    [b, t],
    'int32',
  );
  const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), [...model.params.values()]);
  const out = {
    loss: value.dataSync()[0],
    grads: new Map([...model.params].map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
    held: heldAsBf16(model.frozen.get('model.layers.0.self_attn.q_proj.weight')!),
  };
  tf.dispose([value, ids, targets, ...Object.values(grads)]);
  model.dispose();
  return out;
}

test(
  'LoRA on a Llama, Qwen2 and Qwen3 block in one native call, float32 or BF16 base: the loss and adapter gradients of the layers one by one and of the tfjs ops',
  { skip },
  () => {
    const projections = [
      'self_attn.q_proj',
      'self_attn.k_proj',
      'self_attn.v_proj',
      'self_attn.o_proj',
      'mlp.gate_proj',
      'mlp.up_proj',
      'mlp.down_proj',
    ];
    const targets = [
      projections,
      ['self_attn.q_proj', 'self_attn.v_proj'],
      ['self_attn.k_proj', 'self_attn.o_proj', 'mlp.up_proj', 'mlp.down_proj'],
    ];
    configs.forEach((config, c) => {
      // Some blocks without adapters: the first block of the last set.
      const modules = [...Array(config.layers).keys()].flatMap((i) =>
        c === 2 && i === 0 ? [] : targets[c].map((m) => `model.layers.${i}.${m}`),
      );
      for (const bf16 of [false, true]) {
        let calls = 0;
        const fused: OpSet = {
          ...NATIVE_KERNEL_OPS,
          llamaBlock: (...args) => {
            calls++;
            return nativeLlamaBlock(...args);
          },
        };
        const label = `${config.llama.family}${bf16 ? ', BF16 base' : ''}`;
        const got = loraRun(config, modules, bf16, fused);
        assert.equal(got.held, bf16, `${label}: the base is held as BF16`);
        assert.equal(calls, config.layers, `${label}: every block went through the one call`);
        // The adapters' gradients come out up to ~2e-6 apart: float32 sums in another order (dx of q, k
        // and v, the adapter's part added into the base's).
        const wants: Array<[ReturnType<typeof loraRun>, number, string]> = [
          [loraRun(config, modules, bf16, { ...NATIVE_KERNEL_OPS, llamaBlock: undefined }), 1e-5, 'the layers one by one'],
        ];
        // The tfjs ops have no BF16 matrices.
        if (!bf16) wants.push([loraRun(config, modules, bf16, TFJS_OPS), 1e-5, 'the tfjs ops']);
        for (const [want, tolerance, what] of wants) {
          assert.ok(Math.abs(got.loss - want.loss) < tolerance / 10, `${label}: loss ${got.loss} vs ${what}' ${want.loss}`);
          assert.equal(got.grads.size, 2 * modules.length);
          for (const [name, g] of got.grads) {
            const d = maxRelDiff(g, want.grads.get(name)!);
            assert.ok(d < tolerance, `${label}: gradient of ${name} differs from ${what}' by ${d}`);
          }
        }
      }
    });
  },
);

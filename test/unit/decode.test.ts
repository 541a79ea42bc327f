import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { NativeAddon, loadAddon } from '../../src/worker/engine/native';
import { gpt2DecodeWeights, kvCacheFloats } from '../../src/worker/engine/kernels/decode';
import {
  Gpt,
  KERNEL_OPS,
  KvCache,
  NATIVE_KERNEL_OPS,
  NATIVE_OPS,
  OpSet,
  TFJS_OPS,
  disposeCache,
  newCache,
} from '../../src/worker/model/gpt';
import { generate, promptIds } from '../../src/worker/model/generator';
import { LlamaBlocks, ModelConfig, NormKind } from '../../src/core/model-config';
import { modelNames, weightTable } from '../../src/core/weight-table';
import { NamedTensors } from '../../src/core/tensor';
import { Rng } from '../../src/core/rng';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { ENGLISH, KOREAN, maxAbsDiff } from './helpers';

// The native engine's fused decode (one addon call per generation step, KV cache in native memory)
// against the tfjs-ops decode of the same model. Skipped only where the addon is not built; CI builds it.
const loaded = loadAddon();
const missing = 'why' in loaded ? loaded.why : undefined;
const skip = missing && process.env.CI !== 'true' ? `native engine not available: ${missing}` : false;

before(async () => {
  if (!skip) await startEngine('native');
});

const korean = trainTokenizer(readFileSync(KOREAN, 'utf8').slice(0, 20_000), { kind: 'char' });
const bpe = trainTokenizer(readFileSync(ENGLISH, 'utf8').slice(0, 20_000), { kind: 'bpe', vocabSize: 300 });
const englishText = readFileSync(ENGLISH, 'utf8').slice(5_000, 6_000);
const koreanText = readFileSync(KOREAN, 'utf8').slice(2_000, 3_000);

test("GPT-2's fused decode takes the weight table's weights in native/addon.cc's order, zero biases where the model has none", () => {
  const config: ModelConfig = { vocabSize: 10, context: 4, layers: 1, heads: 2, width: 8, norm: 'dyt', dropout: 0, bias: false };
  const table = weightTable(config);
  const named = (name: string) => ({ name }) as unknown as tf.Tensor;
  const order = gpt2DecodeWeights(
    config,
    modelNames(config),
    (name) => (table.has(name) ? named(name) : undefined),
    (prefix, size) => named(`zeros ${size} for ${prefix}`),
  ).map((w) => (w as unknown as { name: string } | undefined)?.name);
  const norm = (p: string) => [`${p}.weight`, `zeros 8 for ${p}`, `${p}.alpha`];
  const linear = (p: string, size: number) => [`${p}.weight`, `zeros ${size} for ${p}`];
  const h = 'transformer.h.0';
  assert.deepEqual(order, [
    'transformer.wte.weight',
    'transformer.wpe.weight',
    ...norm(`${h}.ln_1`),
    ...linear(`${h}.attn.c_attn`, 24),
    ...linear(`${h}.attn.c_proj`, 8),
    ...norm(`${h}.ln_2`),
    ...linear(`${h}.mlp.c_fc`, 32),
    ...linear(`${h}.mlp.c_proj`, 8),
    ...norm('transformer.ln_f'),
    'transformer.embed_scale',
  ]);
});

/** Random weights with every part non-trivial (norms and biases too), so each one shows in the logits. */
function randomModel(config: ModelConfig, seed: number): Gpt {
  const rng = new Rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const weights: NamedTensors = new Map();
  for (const [name, { shape }] of weightTable(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const around = name.endsWith('.alpha') ? 0.5 : /(ln_\d|ln_f|norm)\.weight$/.test(name) ? 1 : 0;
    const spread = /wte|embed_tokens/.test(name) ? 0.5 : name.endsWith('.alpha') ? 0.2 : 0.1;
    weights.set(name, { shape, data: Float32Array.from({ length: size }, () => around + spread * normal()) });
  }
  return Gpt.fromWeights(config, weights);
}

const configFor = (tokenizer: Tokenizer, norm: NormKind, bias: boolean): ModelConfig => ({
  vocabSize: tokenizer.vocabSize,
  context: 32,
  layers: 2,
  heads: 4,
  width: 64,
  norm,
  dropout: 0,
  bias,
});

/** The logits of a next() call on the given ops. */
function step(model: Gpt, ops: OpSet, ids: number[], cache: KvCache): Float32Array {
  model.ops = ops;
  const logits = model.next(ids, cache);
  const values = logits.dataSync() as Float32Array;
  logits.dispose();
  return values;
}

const cases = [
  { label: 'Korean char model, layer norm, biases', tokenizer: korean, text: koreanText, norm: 'layernorm', bias: true },
  { label: 'Korean char model, Dynamic Tanh, no biases', tokenizer: korean, text: koreanText, norm: 'dyt', bias: false },
  { label: 'BPE model, layer norm, no biases', tokenizer: bpe, text: englishText, norm: 'layernorm', bias: false },
  { label: 'BPE model, Dynamic Tanh, biases', tokenizer: bpe, text: englishText, norm: 'dyt', bias: true },
] as const;

for (const c of cases) {
  test(`fused decode equals the tfjs decode: ${c.label} (prefill, 20 steps, a new prompt, a context-length prompt)`, { skip }, () => {
    const model = randomModel(configFor(c.tokenizer, c.norm, c.bias), 11);
    assert.equal(model.ops, NATIVE_OPS, 'a model on the native engine decodes fused');
    const ids = c.tokenizer.encode(c.text);
    assert.ok(ids.length > 80, `${ids.length} tokens`);
    const fused = newCache();
    const reference = newCache();
    const compare = (what: string, feed: number[]) => {
      const want = step(model, TFJS_OPS, feed, reference);
      const got = step(model, NATIVE_OPS, feed, fused);
      const d = maxAbsDiff(got, want);
      assert.ok(d < 1e-4, `${what}: logits differ by ${d}`);
      assert.equal(fused.length, reference.length);
    };
    compare('prefill of 7 tokens', ids.slice(0, 7));
    for (let i = 7; i < 27; i++) compare(`token at position ${i}`, [ids[i]]);
    // A new prompt on the same cache objects starts over from position 0.
    disposeCache(fused);
    disposeCache(reference);
    const tensorsBefore = tf.memory().numTensors; // the model's own (a model without biases makes its zeros once)
    compare('a new prompt', ids.slice(40, 45));
    compare('after the new prompt', [ids[45]]);
    disposeCache(fused);
    disposeCache(reference);
    compare('a context-length prompt', ids.slice(50, 82));
    assert.throws(() => step(model, NATIVE_OPS, [ids[82]], fused), /KV cache is full/);
    disposeCache(fused);
    disposeCache(reference);
    assert.equal(fused.native, undefined, 'disposeCache lets the native cache go');
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked');
    model.dispose();
  });
}

test('greedy generation writes the same text on the fused and the tfjs decode, past the context (restarts)', { skip }, async () => {
  for (const [tokenizer, text] of [
    [korean, koreanText],
    [bpe, englishText],
  ] as const) {
    const model = randomModel(configFor(tokenizer, 'layernorm', true), 3);
    const options = { temperature: 0, topK: 0, topP: 1, maxTokens: 50, seed: 1, stop: [] };
    const prompt = text.slice(0, 200); // longer than the context: trimmed to its last 32 tokens
    assert.ok(promptIds(tokenizer, prompt).length > model.config.context);
    model.ops = TFJS_OPS;
    const want = await generate(model, tokenizer, prompt, options);
    model.ops = NATIVE_OPS;
    const tensorsBefore = tf.memory().numTensors;
    const got = await generate(model, tokenizer, prompt, options);
    assert.equal(got.tokens, 50);
    assert.deepEqual(got.ids, want.ids);
    assert.equal(got.text, want.text);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked');
    let polls = 0;
    const cancelled = await generate(model, tokenizer, prompt, options, undefined, () => ++polls > 5);
    assert.equal(cancelled.stoppedBy, 'cancelled');
    assert.equal(tf.memory().numTensors, tensorsBefore, 'a cancelled generation leaks no tensor');
    model.dispose();
  }
});

test('adapters kept apart from their base (LoRA) decode through the ops; a bad token id is an error, not a crash', { skip }, () => {
  const config = configFor(korean, 'layernorm', true);
  const adapted = Gpt.initialise(config, 1, { modules: ['transformer.h.0.attn.c_attn'], r: 2, scale: 1, dropout: 0, seed: 1 });
  assert.equal(adapted.ops, NATIVE_KERNEL_OPS);
  const cache = newCache();
  const logits = adapted.next([1, 2, 3], cache);
  assert.equal(logits.size, config.vocabSize);
  assert.equal(cache.native, undefined);
  logits.dispose();
  disposeCache(cache);
  adapted.dispose();

  const model = randomModel(config, 5);
  const tensorsBefore = tf.memory().numTensors;
  assert.throws(() => model.next([1, config.vocabSize + 3], newCache()), /outside the vocabulary/);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the logits of a failed call are freed');
  model.dispose();
});

test('on the wasm engine models keep the ops-by-ops decode', { skip }, async () => {
  await startEngine('wasm');
  try {
    const model = randomModel(configFor(bpe, 'layernorm', true), 2);
    assert.equal(model.ops, KERNEL_OPS);
    model.dispose();
  } finally {
    await startEngine('native');
  }
});

const llamaConfig = (
  width: number,
  heads: number,
  llama: Omit<LlamaBlocks, 'normEps' | 'ropeTheta'> & Partial<LlamaBlocks>,
): ModelConfig => ({
  vocabSize: 97,
  context: 40,
  layers: 2,
  heads,
  width,
  norm: 'rmsnorm',
  dropout: 0,
  bias: false,
  llama: { ropeTheta: 10_000, normEps: 1e-6, ...llama },
});

const llamaCases = [
  {
    label: 'Qwen3-like: q/k norms, 6 heads on 2 key/value heads of 16 (q wider than the model), no biases, tied head',
    config: llamaConfig(48, 6, { family: 'qwen3', kvHeads: 2, headDim: 16, mlpWidth: 80, qkvBias: false, qkNorm: true, tiedHead: true }),
  },
  {
    label: 'Qwen2-like: q/k/v biases, 4 heads on 2, tied head',
    config: llamaConfig(64, 4, { family: 'qwen2', kvHeads: 2, headDim: 16, mlpWidth: 96, qkvBias: true, qkNorm: false, tiedHead: true }),
  },
  {
    label: 'Llama with Llama 3 rope scaling, 8 heads on 2, its own head',
    config: llamaConfig(64, 8, {
      family: 'llama',
      kvHeads: 2,
      headDim: 8,
      mlpWidth: 112,
      ropeTheta: 500_000,
      ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 16 },
      qkvBias: false,
      qkNorm: false,
      tiedHead: false,
    }),
  },
];

for (const c of llamaCases) {
  test(`fused Llama-family decode equals the tfjs-ops forward with a KV cache, token by token: ${c.label}`, { skip }, () => {
    const model = randomModel(c.config, 7);
    assert.equal(model.ops, NATIVE_OPS, 'a Llama-family model on the native engine decodes fused');
    const ids = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % c.config.vocabSize);
    const fused = newCache();
    const reference = newCache();
    const tensorsBefore = tf.memory().numTensors;
    const compare = (what: string, feed: number[]) => {
      const want = step(model, TFJS_OPS, feed, reference);
      const got = step(model, NATIVE_OPS, feed, fused);
      const d = maxAbsDiff(got, want);
      assert.ok(d < 1e-4, `${what}: logits differ by ${d}`);
      assert.equal(fused.length, reference.length);
    };
    compare('prompt of 9 tokens', ids.slice(0, 9));
    for (let i = 9; i < 17; i++) compare(`token at position ${i}`, [ids[i]]);
    compare('3 more tokens at once', ids.slice(17, 20));
    compare('up to the context', ids.slice(20, 40));
    assert.throws(() => step(model, NATIVE_OPS, [ids[0]], fused), /KV cache is full/);
    disposeCache(fused);
    disposeCache(reference);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked');
    model.dispose();
  });
}

test('fused Llama-family decode of a prompt longer than its 256-token chunk equals the tfjs-ops forward', { skip }, () => {
  const config = { ...llamaCases[1].config, context: 320, layers: 1 };
  const model = randomModel(config, 3);
  const ids = Array.from({ length: 300 }, (_, i) => (i * 53 + 5) % config.vocabSize);
  const fused = newCache();
  const reference = newCache();
  const feeds: [string, number[]][] = [
    ['a 297-token prompt', ids.slice(0, 297)],
    ['one more token', [ids[297]]],
    ['two more at once', ids.slice(298, 300)],
  ];
  for (const [what, feed] of feeds) {
    const want = step(model, TFJS_OPS, feed, reference);
    const got = step(model, NATIVE_OPS, feed, fused);
    const d = maxAbsDiff(got, want);
    assert.ok(d < 1e-4, `${what}: logits differ by ${d}`);
  }
  disposeCache(fused);
  disposeCache(reference);
  model.dispose();
});

test('fused Llama-family decode: a token outside the vocabulary or a missing weight is an error, not a crash', { skip }, () => {
  const model = randomModel(llamaCases[0].config, 9);
  const tensorsBefore = tf.memory().numTensors;
  assert.throws(() => model.next([1, llamaCases[0].config.vocabSize], newCache()), /outside the vocabulary/);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the logits of a failed call are freed');
  const addon = (loaded as { addon: NativeAddon }).addon;
  const config = llamaCases[0].config;
  const { layers, heads, width, context, vocabSize, llama } = config;
  const slots = 1 + layers * 14 + 2;
  const call = (offsets: Float64Array) =>
    addon.decodeLlama(
      new ArrayBuffer(256),
      new ArrayBuffer(4 * kvCacheFloats(config)),
      offsets,
      new Float64Array(llama!.headDim / 2),
      Int32Array.from([1]),
      0,
      0,
      layers,
      heads,
      llama!.kvHeads,
      llama!.headDim,
      width,
      llama!.mlpWidth,
      context,
      vocabSize,
      llama!.normEps,
      0,
    );
  assert.throws(() => call(new Float64Array(slots - 1)), /wrong number of weight offsets/);
  assert.throws(() => call(new Float64Array(slots)), /a weight the model needs is missing/);
  assert.throws(() => call(new Float64Array(slots).fill(4)), /not a 4-byte aligned range inside the heap/);
  model.dispose();
});

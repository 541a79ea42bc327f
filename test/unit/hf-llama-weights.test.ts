import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFolder, modelCacheKey, modelWeightsFiles } from '../../src/core/model-folder';
import { encodeSafetensors, readSafetensors } from '../../src/core/safetensors';
import { NamedTensors } from '../../src/core/tensor';
import { loadModel } from '../../src/worker/jobs/load-model';
import { tf } from '../../src/worker/engine/backend';
import { Rng } from '../../src/core/rng';
import { REPO, maxAbsDiff, tempDir, userError } from './helpers';
import { randomTensor } from '../gpt2-folder';

// The weights of Llama-family folders from anywhere: shards through model.safetensors.index.json,
// a tied head stored or not, every name and shape checked before any tensor data is read.
const FIXTURES = join(REPO, 'test/fixtures/hf-llama');
const root = tempDir('corpus-lab-hf-weights-');
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;

function copy(name: 'qwen2' | 'qwen3' | 'llama'): string {
  const dir = join(root, `${name}-${n++}`);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

const INDEX = 'model.safetensors.index.json';
const readIndex = (dir: string) => JSON.parse(readFileSync(join(dir, INDEX), 'utf8')) as { weight_map: Record<string, string> };
const writeIndex = (dir: string, index: unknown) => writeFileSync(join(dir, INDEX), JSON.stringify(index));
const shardTensors = (dir: string, shard: string) => readSafetensors(join(dir, shard), { dtypes: ['BF16', 'F32'] }).tensors;

test('a sharded folder reads the same weights as the shards hold, and its index stands for them', () => {
  const dir = join(FIXTURES, 'qwen2');
  const m = readModelFolder(dir);
  const { weight_map } = readIndex(dir);
  assert.deepEqual([...m.weights.keys()].sort(), Object.keys(weight_map).sort());
  for (const shard of new Set(Object.values(weight_map)))
    for (const [name, t] of shardTensors(dir, shard)) assert.deepEqual(m.weights.get(name)!.data, t.data, name);
  const shards = [...new Set(Object.values(weight_map))].map((f) => join(dir, f)).sort();
  assert.deepEqual(modelWeightsFiles(dir), [join(dir, INDEX), ...shards]);
});

test('a sharded model is loaded again when one of its shards changes, not only its index', () => {
  const dir = tempDir();
  cpSync(join(REPO, 'test/fixtures/hf-llama/qwen2'), dir, { recursive: true });
  const before = modelCacheKey(dir).key;
  const shard = join(dir, 'model-00002-of-00003.safetensors');
  const later = new Date(Date.now() + 5000);
  utimesSync(shard, later, later);
  assert.notEqual(modelCacheKey(dir).key, before);
});

test('an index that does not describe its shards is refused in one line naming the tensor and file', () => {
  const cases: [(dir: string, map: Record<string, string>) => unknown, RegExp][] = [
    [
      (_, map) => ({ weight_map: { ...map, 'model.norm.weight': '../model-00003-of-00003.safetensors' } }),
      /weight_map maps model\.norm\.weight to "\.\.\/model-00003-of-00003\.safetensors", outside the model folder$/,
    ],
    [(_, map) => ({ weight_map: { ...map, 'model.norm.weight': '/etc/hostname' } }), /to "\/etc\/hostname", outside the model folder$/],
    [(_, map) => ({ weight_map: { ...map, 'model.norm.weight': '.' } }), /to "\.", outside the model folder$/],
    [(_, map) => ({ weight_map: { ...map, 'model.norm.weight': 7 } }), /weight_map maps model\.norm\.weight to 7, not a file name$/],
    [() => ({ weight_map: [] }), /weight_map must be an object of tensor names to shard files$/],
    [() => ({ metadata: {} }), /weight_map must be an object/],
    [() => ({ weight_map: {} }), /weight_map names no tensors$/],
    [
      (_, map) => Object.fromEntries([['weight_map', Object.fromEntries(Object.entries(map).filter(([k]) => k !== 'model.norm.weight'))]]),
      /model-00003-of-00003\.safetensors holds model\.norm\.weight, which model\.safetensors\.index\.json does not map to it$/,
    ],
    [
      (_, map) => ({ weight_map: { ...map, 'model.layers.9.mlp.up_proj.weight': 'model-00003-of-00003.safetensors' } }),
      /index\.json maps model\.layers\.9\.mlp\.up_proj\.weight to model-00003-of-00003\.safetensors, which does not hold it$/,
    ],
    [
      (_, map) => ({ weight_map: { ...map, 'model.layers.9.mlp.up_proj.weight': 'model-00009-of-00009.safetensors' } }),
      /model-00009-of-00009\.safetensors: no such file$/,
    ],
  ];
  for (const [index, re] of cases) {
    const dir = copy('qwen2');
    writeIndex(dir, index(dir, readIndex(dir).weight_map));
    assert.throws(() => readModelFolder(dir), userError(re), re.source);
  }
  const dir = copy('qwen2');
  writeFileSync(join(dir, INDEX), '{"weight_map": ');
  assert.throws(() => readModelFolder(dir), userError(/model\.safetensors\.index\.json: not valid JSON/));
});

test('a shard that links out of the folder is refused', () => {
  const dir = copy('qwen2');
  const outside = join(root, 'outside.safetensors');
  cpSync(join(dir, 'model-00003-of-00003.safetensors'), outside);
  unlinkSync(join(dir, 'model-00003-of-00003.safetensors'));
  symlinkSync(outside, join(dir, 'model-00003-of-00003.safetensors'));
  assert.throws(
    () => readModelFolder(dir),
    userError(/the shard "model-00003-of-00003\.safetensors" links to a file outside the model folder$/),
  );
});

test('names, shapes and dtypes of every shard are checked before any tensor data is read', () => {
  const dir = copy('qwen2');
  const rewrite = (shard: string, change: (t: NamedTensors) => void) => {
    const tensors = shardTensors(dir, shard);
    change(tensors);
    writeFileSync(join(dir, shard), encodeSafetensors(tensors));
  };
  // The first shard holds a NaN (found only when its data is read); the last a wrong shape.
  rewrite('model-00001-of-00003.safetensors', (t) => (t.get('model.embed_tokens.weight')!.data[5] = NaN));
  rewrite('model-00003-of-00003.safetensors', (t) => t.set('model.norm.weight', { shape: [32], data: new Float32Array(32) }));
  assert.throws(() => readModelFolder(dir), userError(/index\.json: model\.norm\.weight has shape \[32\] but the config needs \[64\]$/));
  rewrite('model-00003-of-00003.safetensors', (t) => t.set('model.norm.weight', { shape: [64], data: new Float32Array(64) }));
  assert.throws(() => readModelFolder(dir), userError(/tensor model\.embed_tokens\.weight holds NaN/));
  // A dtype we do not read, in a later shard: named before the first shard's data is read.
  const bytes = readFileSync(join(dir, 'model-00003-of-00003.safetensors'));
  const length = Number(bytes.readBigUInt64LE(0));
  const header = bytes
    .subarray(8, 8 + length)
    .toString('utf8')
    .replace('"dtype":"F32","shape":[64]', '"dtype":"I32","shape":[64]');
  writeFileSync(
    join(dir, 'model-00003-of-00003.safetensors'),
    Buffer.concat([bytes.subarray(0, 8), Buffer.from(header), bytes.subarray(8 + length)]),
  );
  assert.throws(
    () => readModelFolder(dir),
    userError(
      /model-00003-of-00003\.safetensors: tensor "model\.layers\.1\.input_layernorm\.weight" is I32; Corpus Lab reads F32, BF16, F16 tensors only$/,
    ),
  );
});

test("a tied head's lm_head.weight may be stored when it equals the embedding; an own head must be there", () => {
  const dir = copy('qwen3');
  const tensors = readSafetensors(join(dir, 'model.safetensors'), { dtypes: ['BF16'] }).tensors;
  const embedding = tensors.get('model.embed_tokens.weight')!;
  tensors.set('lm_head.weight', { shape: embedding.shape, data: embedding.data.slice() });
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  const m = readModelFolder(dir);
  assert.ok(!m.weights.has('lm_head.weight'));
  assert.deepEqual(m.weights.get('model.embed_tokens.weight')!.data, embedding.data);
  tensors.get('lm_head.weight')!.data[3] += 1;
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  assert.throws(
    () => readModelFolder(dir),
    userError(
      /lm_head\.weight differs from the token embedding \(model\.embed_tokens\.weight, first at value 3\), but config\.json ties them \(tie_word_embeddings true\)$/,
    ),
  );
  tensors.set('lm_head.weight', { shape: [10, 64], data: new Float32Array(640) });
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  assert.throws(() => readModelFolder(dir), userError(/lm_head\.weight has shape \[10, 64\] but the config needs \[2005, 64\]$/));

  const own = copy('llama');
  const weights = readSafetensors(join(own, 'model.safetensors')).tensors;
  weights.delete('lm_head.weight');
  writeFileSync(join(own, 'model.safetensors'), encodeSafetensors(weights));
  assert.throws(() => readModelFolder(own), userError(/config\.json sets tie_word_embeddings false but there is no lm_head\.weight$/));
});

test("an embedding padded past the tokenizer's last token (Qwen2.5's 271 rows) opens over the tokens: same logits; more than 1,024 rows is another model's tokenizer", async () => {
  const logits = async (dir: string) => {
    const loaded = await loadModel(dir, 'wasm');
    const t = loaded.model.forward(tf.tensor2d([5, 900, 1999, 42], [1, 4], 'int32'));
    const out = { values: (await t.data()) as Float32Array, vocab: loaded.model.config.vocabSize };
    t.dispose();
    loaded.model.dispose();
    return out;
  };
  const rng = new Rng(4);
  const pad = (name: 'qwen3' | 'llama', rows: number) => {
    const dir = copy(name);
    const dtypes = ['F32', 'BF16'] as const;
    const tensors = readSafetensors(join(dir, 'model.safetensors'), { dtypes: [...dtypes] }).tensors;
    for (const weight of ['model.embed_tokens.weight', 'lm_head.weight']) {
      const t = tensors.get(weight);
      if (!t) continue;
      const extra = randomTensor([rows, t.shape[1]], rng, 0.5);
      const data = new Float32Array(t.data.length + extra.data.length);
      data.set(t.data);
      data.set(extra.data, t.data.length);
      tensors.set(weight, { shape: [t.shape[0] + rows, t.shape[1]], data });
    }
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: config.vocab_size + rows }));
    return dir;
  };
  for (const name of ['qwen3', 'llama'] as const) {
    const dir = pad(name, 271);
    const m = readModelFolder(dir);
    assert.equal(m.config.vocabSize, 2005, name);
    assert.deepEqual(m.weights.get('model.embed_tokens.weight')!.shape, [2005, 64]);
    const [padded, original] = [await logits(dir), await logits(join(FIXTURES, name))];
    assert.equal(padded.vocab, 2005);
    assert.equal(maxAbsDiff(padded.values, original.values), 0, name);
  }
  assert.throws(
    () => readModelFolder(pad('qwen3', 1025)),
    userError(/tokenizer\.json has 2005 tokens but the model has 3030 \(its embedding rows\)/),
  );
});

test('a folder refused part-way through reading its weights into the engine (a NaN in the last tensor read) leaves no tensor behind', async () => {
  (await loadModel(join(FIXTURES, 'llama'), 'wasm')).model.dispose(); // the engine started, its own tensors made
  const dir = copy('llama');
  const tensors = readSafetensors(join(dir, 'model.safetensors')).tensors;
  const last = [...tensors.keys()].sort().pop()!;
  tensors.get(last)!.data[3] = NaN;
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  const before = tf.memory().numTensors;
  await assert.rejects(
    loadModel(dir, 'wasm'),
    userError(new RegExp(`model\\.safetensors: tensor ${last.replace(/\./g, '\\.')} holds NaN`)),
  );
  assert.equal(tf.memory().numTensors, before);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, existsSync, unlinkSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeCheckpoint, readCheckpoint, resolveCheckpoint } from '../../src/core/checkpoint';
import { ModelConfig } from '../../src/core/model-config';
import { HostTensor, NamedTensors } from '../../src/core/tensor';
import { encodeSafetensors, readSafetensors } from '../../src/core/safetensors';
import { isUserError } from '../../src/core/errors';
import { Rng } from '../../src/core/rng';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { smallModelConfig } from './helpers';
import { readModelFolder, modelTokenizerFile } from '../../src/core/model-folder';
import { dequantizeMatrix, encodeInt8Weights, quantizeMatrix, readInt8Weights, Q8_0_BLOCK } from '../../src/core/int8';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  LoraAdapter,
  adapterFiles,
  baseRecord,
  matchTargets,
  mergeLora,
  loraModuleShapes,
  readAdapterSettings,
} from '../../src/core/lora-adapter';
import { gpt2FolderFiles, int8FolderFiles, mergeAdapter } from '../../src/core/export-folder';
import { writeDirAtomic } from '../../src/core/atomic-write';
import { loadModel } from '../../src/worker/jobs/load-model';
import { generate } from '../../src/worker/model/generator';
import { tf } from '../../src/worker/engine/backend';
import { hfConfigJson, randomTensor, randomWeights, writeGpt2Folder } from '../gpt2-folder';

const REPO = join(__dirname, '../../..');
const KOREAN = readFileSync(join(REPO, 'media/samples/constitution-ko.txt'), 'utf8');
const ENGLISH = readFileSync(join(REPO, 'media/samples/shakespeare.txt'), 'utf8');
const root = mkdtempSync(join(tmpdir(), 'corpus-lab-ft-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const userError = (re: RegExp) => (e: unknown) => isUserError(e) && re.test((e as Error).message);

/** A byte-level BPE like GPT-2's (with <|endoftext|>), trained on Korean and English. */
const bpe = trainTokenizer(KOREAN.slice(0, 6000) + ENGLISH.slice(0, 6000), { kind: 'bpe', vocabSize: 300 });
const config = smallModelConfig(bpe.vocabSize);

/** A Hugging Face GPT-2 folder under the test's root (test/gpt2-folder.ts writeGpt2Folder). */
function hfFolder(
  name: string,
  weights: NamedTensors,
  style: 'bare' | 'prefixed',
  opts: { tokenizerJson?: string; lmHead?: HostTensor; configExtra?: Record<string, unknown>; c?: ModelConfig } = {},
): string {
  return writeGpt2Folder(join(root, name), opts.c ?? config, weights, opts.tokenizerJson ?? bpe.toJSON(), { style, ...opts });
}

async function ourLogits(path: string, ids: number[]): Promise<Float32Array> {
  const loaded = await loadModel(path, 'wasm');
  try {
    const t = loaded.model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
    const out = (await t.data()) as Float32Array;
    t.dispose();
    return out;
  } finally {
    loaded.model.dispose();
  }
}

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
function torchLogits(dir: string, ids: number[], adapter?: string): Float32Array {
  const out = execFileSync(
    '/usr/bin/python3',
    [join(REPO, 'test/reference/gpt2_logits.py'), dir, JSON.stringify(ids), ...(adapter ? [adapter] : [])],
    { encoding: 'utf8', maxBuffer: 1 << 28 },
  );
  return Float32Array.from((JSON.parse(out).logits as number[][]).flat());
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const baseWeights = randomWeights(config, 1);
const ids = bpe.encode('대한민국은 민주공화국 to be or').slice(0, config.context);

test('a Hugging Face GPT-2 folder loads in both naming styles, with mask buffers or a tied lm_head; PyTorch agrees', async (t) => {
  const bare = hfFolder('gpt2-bare', baseWeights, 'bare');
  const prefixed = hfFolder('gpt2-prefixed', baseWeights, 'prefixed');
  for (const dir of [bare, prefixed]) {
    const m = readModelFolder(dir);
    assert.equal(m.kind, 'huggingface');
    assert.deepEqual(m.config, { ...config, dropout: 0.1 });
    assert.deepEqual([...m.weights.keys()].sort(), [...baseWeights.keys()].sort());
    for (const [n, w] of baseWeights) assert.deepEqual(m.weights.get(n)!.data, w.data, n);
  }
  const a = await ourLogits(bare, ids);
  const b = await ourLogits(prefixed, ids);
  assert.equal(maxDiff(a, b), 0);
  if (!hasTorch) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  for (const dir of [bare, prefixed]) assert.ok(maxDiff(a, torchLogits(dir, ids)) < 1e-4, dir);
});

test('Hugging Face folders that do not describe our model are refused with the reason', () => {
  const other = randomTensor([config.vocabSize, config.width], new Rng(9), 0.2);
  const untied = hfFolder('untied', baseWeights, 'prefixed', { lmHead: other });
  assert.throws(() => readModelFolder(untied), userError(/lm_head\.weight differs from the token embedding.*untied/));
  const noHead = join(root, 'nohead');
  mkdirSync(noHead);
  writeFileSync(join(noHead, 'model.safetensors'), encodeSafetensors(baseWeights));
  writeFileSync(join(noHead, 'config.json'), hfConfigJson(config, { tie_word_embeddings: false }));
  writeFileSync(join(noHead, 'tokenizer.json'), bpe.toJSON());
  assert.throws(() => readModelFolder(noHead), userError(/tie_word_embeddings false but there is no lm_head/));
  writeFileSync(join(noHead, 'config.json'), hfConfigJson(config, { layer_norm_epsilon: 1e-6 }));
  assert.throws(() => readModelFolder(noHead), userError(/layer_norm_epsilon 0\.000001 is not supported/));
  writeFileSync(join(noHead, 'config.json'), hfConfigJson(config, { activation_function: 'relu' }));
  assert.throws(() => readModelFolder(noHead), userError(/activation_function "relu"/));
  // A GPT-2 config.json that says model_type llama is read as Llama's, which names its own class.
  writeFileSync(join(noHead, 'config.json'), hfConfigJson(config, { model_type: 'llama' }));
  assert.throws(
    () => readModelFolder(noHead),
    userError(/architectures \["GPT2LMHeadModel"\] is not supported \(a llama model is LlamaForCausalLM\)$/),
  );
  writeFileSync(join(noHead, 'config.json'), hfConfigJson(config, { model_type: 'gemma', architectures: ['GemmaForCausalLM'] }));
  assert.throws(
    () => readModelFolder(noHead),
    userError(/the model is GemmaForCausalLM; Corpus Lab opens GPT-2, Llama, Mistral, Qwen2 and Qwen3 models$/),
  );
  writeFileSync(join(noHead, 'config.json'), hfConfigJson(config));
  const mixed = new Map(baseWeights);
  mixed.set('wpe.weight', mixed.get('transformer.wpe.weight')!);
  mixed.delete('transformer.wpe.weight');
  writeFileSync(join(noHead, 'model.safetensors'), encodeSafetensors(mixed));
  assert.throws(() => readModelFolder(noHead), userError(/mixes names with and without/));
  const badMask = new Map(baseWeights);
  badMask.set('transformer.h.0.attn.bias', { shape: [1, 1, 4, 4], data: new Float32Array(16) });
  writeFileSync(join(noHead, 'model.safetensors'), encodeSafetensors(badMask));
  assert.throws(() => readModelFolder(noHead), userError(/attn\.bias has shape \[1, 1, 4, 4\], not that of GPT-2's attention-mask buffer/));
  const extraLayer = new Map(baseWeights);
  extraLayer.set('transformer.h.7.attn.masked_bias', { shape: [], data: Float32Array.of(0) });
  writeFileSync(join(noHead, 'model.safetensors'), encodeSafetensors(extraLayer));
  assert.throws(() => readModelFolder(noHead), userError(/belongs to layer 7, but the config has 2 layers/));
  const wrong = randomWeights({ ...config, width: 16 }, 2);
  writeFileSync(join(noHead, 'model.safetensors'), encodeSafetensors(wrong));
  assert.throws(() => readModelFolder(noHead), userError(/has shape \[300, 16\] but the config needs \[300, 32\]/));
  const pickle = join(root, 'pickle');
  mkdirSync(pickle);
  writeFileSync(join(pickle, 'pytorch_model.bin'), 'PK');
  writeFileSync(join(pickle, 'config.json'), hfConfigJson(config));
  assert.throws(() => readModelFolder(pickle), userError(/only pytorch_model\.bin, a pickle/));
  const shards = join(root, 'shards');
  mkdirSync(shards);
  writeFileSync(join(shards, 'model.safetensors.index.json'), '{}');
  writeFileSync(join(shards, 'config.json'), hfConfigJson(config));
  assert.throws(() => readModelFolder(shards), userError(/split into shards/));
  // Commands find a model through resolveCheckpoint: such a folder is a model (refused with its reason), not "no checkpoints yet".
  assert.equal(resolveCheckpoint(pickle), pickle);
  assert.equal(resolveCheckpoint(shards), shards);
  const noTok = hfFolder('notok', baseWeights, 'bare');
  unlinkSync(join(noTok, 'tokenizer.json'));
  writeFileSync(join(noTok, 'vocab.json'), '{}');
  assert.throws(() => readModelFolder(noTok), userError(/no tokenizer\.json \(only vocab\.json/));
  assert.throws(() => readCheckpoint(join(root, 'gpt2-bare'), { withOptimizer: true }), userError(/not resumed/));
});

test('a folder with a KoGPT2-style tokenizer (not GPT-2 byte-level) generates Korean', async () => {
  // Metaspace BPE over characters with byte fallback, as KoGPT2's tokenizer.json is built.
  const vocab: Record<string, number> = { '<unk>': 0, '</s>': 1 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = Object.keys(vocab).length;
  for (const ch of [...new Set(KOREAN.slice(0, 4000).replace(/ /g, '▁').replace(/\n/g, ''))].sort())
    vocab[ch] ??= Object.keys(vocab).length;
  const json = JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 1, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: [],
    },
  });
  const tok = Tokenizer.fromJSON(json);
  assert.equal(tok.kind, 'imported');
  const c = { ...config, vocabSize: tok.vocabSize };
  const dir = hfFolder('kogpt2-like', randomWeights(c, 3), 'bare', { tokenizerJson: json, c });
  assert.equal(modelTokenizerFile(dir), join(dir, 'tokenizer.json'));
  const loaded = await loadModel(dir, 'wasm');
  try {
    assert.equal(loaded.tokenizer.kind, 'imported');
    const r = await generate(loaded.model, loaded.tokenizer, '대한민국은', {
      maxTokens: 12,
      temperature: 1,
      topK: 0,
      topP: 1,
      seed: 5,
      stop: [],
    });
    assert.equal(r.tokens, 12);
    assert.ok(!r.text.includes('\uFFFD'), JSON.stringify(r.text));
  } finally {
    loaded.model.dispose();
  }
});

test('every checkpoint folder also has tokenizer_config.json and generation_config.json', () => {
  const weights = randomWeights(config, 4);
  const optimizer: NamedTensors = new Map(
    [...weights].flatMap(
      ([n, w]) =>
        [
          [`m.${n}`, w],
          [`v.${n}`, w],
        ] as const,
    ),
  );
  const dir = writeCheckpoint(join(root, 'run-side'), 'epoch-0001', {
    config,
    weights,
    optimizer,
    trainerState: { step: 1, epoch: 1, cursor: 0, seed: 1, best_val_loss: null, rng: {} },
    tokenizerJson: bpe.toJSON(),
    tokenizerKind: 'bpe',
  });
  const eot = bpe.vocabSize - 1;
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')), {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: 16,
    clean_up_tokenization_spaces: false,
    bos_token: '<|endoftext|>',
    eos_token: '<|endoftext|>',
  });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')), {
    _from_model_config: true,
    max_length: 16,
    bos_token_id: eot,
    eos_token_id: eot,
  });
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).eos_token_id, eot);
  const files = gpt2FolderFiles({
    config,
    weights,
    tokenizerJson: trainTokenizer('가나다', { kind: 'char' }).toJSON(),
    tokenizerKind: 'char',
  });
  assert.deepEqual(JSON.parse(files['tokenizer_config.json'] as string).unk_token, '<unk>');
  assert.equal(JSON.parse(files['generation_config.json'] as string).eos_token_id, undefined);
  assert.throws(
    () => gpt2FolderFiles({ config: { ...config, norm: 'dyt' }, weights, tokenizerJson: bpe.toJSON(), tokenizerKind: 'bpe' }),
    userError(/Dynamic Tanh.*cannot represent/),
  );
});

test('int8: round-trip error ≤ scale/2 per weight, per channel and in Q8_0 blocks (ragged last block, zero channel)', () => {
  const rng = new Rng(7);
  const w = randomTensor([40, 24], rng, 0.3);
  for (let r = 0; r < 40; r++) w.data[r * 24 + 5] = 0; // an all-zero output channel
  w.data[3 * 24 + 7] = 4; // an outlier
  for (const scheme of ['channel', 'q8_0'] as const) {
    const { q, scale } = quantizeMatrix(w, scheme, 'in-out');
    assert.deepEqual(scale.shape, scheme === 'channel' ? [24] : [2, 24]);
    const back = dequantizeMatrix(q, scale, scheme, 'in-out');
    let worst = 0;
    for (let r = 0; r < 40; r++) {
      for (let c = 0; c < 24; c++) {
        const s = scale.data[(scheme === 'channel' ? 0 : Math.floor(r / Q8_0_BLOCK)) * 24 + c];
        const err = Math.abs(back.data[r * 24 + c] - w.data[r * 24 + c]);
        assert.ok(err <= s / 2 + 1e-7 * Math.abs(w.data[r * 24 + c]), `${scheme} [${r},${c}] error ${err} > scale/2 ${s / 2}`);
        worst = Math.max(worst, err);
      }
    }
    assert.ok(q.data.every((v) => v >= -127 && v <= 127));
    assert.equal(back.data[5], 0);
    assert.ok(worst > 0, 'quantization changed nothing: the test would not notice a no-op');
  }
  // Q8_0's blocks keep the outlier from coarsening the rest of its channel.
  const ch = quantizeMatrix(w, 'channel', 'in-out').scale.data[7];
  const q8 = quantizeMatrix(w, 'q8_0', 'in-out').scale.data[24 + 7];
  assert.ok(q8 < ch / 3, `${q8} vs ${ch}`);
});

test('int8 checkpoint file: I8 matrices + F32 scales, everything else F32; loads back dequantized; hostile files refused', () => {
  const dir = join(root, 'int8');
  writeDirAtomic(dir, int8FolderFiles({ config, weights: baseWeights, tokenizerJson: bpe.toJSON(), tokenizerKind: 'bpe' }, 'channel'));
  const path = join(dir, 'model-int8.safetensors');
  const raw = readFileSync(path);
  const header = JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString('utf8'));
  assert.deepEqual(header.__metadata__, { format: 'corpus-lab-int8', scheme: 'channel' });
  assert.equal(header['transformer.h.1.mlp.c_fc.weight'].dtype, 'I8');
  assert.deepEqual(header['transformer.h.1.mlp.c_fc.weight_scale'], {
    ...header['transformer.h.1.mlp.c_fc.weight_scale'],
    dtype: 'F32',
    shape: [128],
  });
  for (const n of ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.ln_f.weight', 'transformer.h.0.attn.c_attn.bias'])
    assert.equal(header[n].dtype, 'F32', n);
  const m = readModelFolder(dir);
  assert.equal(m.kind, 'int8');
  assert.equal(m.int8Scheme, 'channel');
  for (const [n, w] of baseWeights) {
    const got = m.weights.get(n)!;
    if (n.endsWith('c_fc.weight') || n.endsWith('c_attn.weight') || n.endsWith('c_proj.weight'))
      assert.ok(maxDiff(got.data, w.data) < 0.01, n);
    else assert.deepEqual(got.data, w.data, n);
  }
  const file = readSafetensors(path, { dtypes: ['F32', 'I8'] });
  const rewrite = (mutate: (f: NamedTensors, i8: typeof file.int8, meta: Record<string, string>) => void) => {
    const f = new Map(file.tensors);
    const i8 = new Map(file.int8);
    const meta = { ...file.metadata };
    mutate(f, i8, meta);
    writeFileSync(path, encodeSafetensors(f, meta, i8));
  };
  const cases: [(f: NamedTensors, i8: typeof file.int8, meta: Record<string, string>) => void, RegExp][] = [
    [(_f, _i, meta) => (meta.format = 'pt'), /not a Corpus Lab int8 file/],
    [(_f, _i, meta) => (meta.scheme = 'q4_k'), /unknown int8 scheme "q4_k"/],
    [(f) => f.delete('transformer.h.0.attn.c_proj.weight_scale'), /missing 1 tensor.*c_proj\.weight_scale/],
    [
      (f) => f.set('transformer.h.0.mlp.c_fc.weight_scale', { shape: [2, 128], data: new Float32Array(256) }),
      /c_fc\.weight_scale has shape \[2, 128\]/,
    ],
    [
      (f, i8) => {
        const q = i8.get('transformer.h.0.attn.c_attn.weight')!;
        i8.delete('transformer.h.0.attn.c_attn.weight');
        f.set('transformer.h.0.attn.c_attn.weight', { shape: q.shape, data: Float32Array.from(q.data) });
      },
      /c_attn\.weight is F32, expected I8/,
    ],
    [
      (f) => f.set('transformer.h.1.attn.c_attn.weight_scale', { shape: [96], data: new Float32Array(96).fill(-1) }),
      /negative or non-finite scale/,
    ],
    [
      (f) => f.set('transformer.h.1.attn.c_attn.weight_scale', { shape: [96], data: new Float32Array(96).fill(NaN) }),
      /tensor transformer\.h\.1\.attn\.c_attn\.weight_scale holds NaN \(value 0 of 96\)/,
    ],
  ];
  for (const [mutate, re] of cases) {
    rewrite(mutate);
    assert.throws(() => readInt8Weights(path, config), userError(re), String(re));
  }
  writeFileSync(path, raw.subarray(0, raw.length - 3));
  assert.throws(() => readModelFolder(dir), userError(/model-int8\.safetensors/));
  // Plain fp32 readers never take I8 silently.
  writeFileSync(path, raw);
  assert.throws(() => readSafetensors(path), userError(/is I8; Corpus Lab reads F32 tensors only/));
  // Each matrix weight goes from 4 bytes to 1; the rest stays (a few hundred scales are added).
  const matrixWeights = [...baseWeights].filter(([n]) => /c_(attn|proj|fc)\.weight$/.test(n)).reduce((a, [, t]) => a + t.data.length, 0);
  const saved = encodeSafetensors(baseWeights).length - encodeInt8Weights(config, baseWeights, 'channel').length;
  assert.ok(
    saved > 3 * matrixWeights - 4 * 600 - 2048 && saved < 3 * matrixWeights,
    `${saved} bytes saved for ${matrixWeights} matrix weights`,
  );
});

function randomAdapter(
  c: ModelConfig,
  targets: string[],
  r: number,
  alpha: number,
  rslora: boolean,
  seed: number,
  zeroB = false,
): LoraAdapter {
  const rng = new Rng(seed);
  const shapes = loraModuleShapes(c);
  const layers = new Map<string, { a: HostTensor; b: HostTensor }>();
  for (const m of matchTargets(c, targets)) {
    const [inDim, outDim] = shapes.get(m)!;
    layers.set(m, {
      a: randomTensor([r, inDim], rng, 0.2),
      b: zeroB ? { shape: [outDim, r], data: new Float32Array(outDim * r) } : randomTensor([outDim, r], rng, 0.2),
    });
  }
  return { settings: { r, alpha, rslora, targets, dropout: 0.05 }, layers };
}

function writeAdapter(name: string, base: string, adapter: LoraAdapter): string {
  const dir = join(root, name);
  writeDirAtomic(dir, { ...adapterFiles(adapter, baseRecord(base, 'model.safetensors')), 'tokenizer.json': bpe.toJSON() });
  return dir;
}

test("LoRA adapter files are PEFT's: metadata, key names, shapes, sorted adapter_config.json", () => {
  const base = hfFolder('lora-base-a', baseWeights, 'prefixed');
  const dir = writeAdapter('adapter-a', base, randomAdapter(config, ['c_attn', 'mlp.c_proj'], 4, 8, false, 5));
  const text = readFileSync(join(dir, ADAPTER_CONFIG_FILE), 'utf8');
  const cfg = JSON.parse(text);
  assert.deepEqual(Object.keys(cfg), Object.keys(cfg).sort());
  assert.equal(text, JSON.stringify(cfg, null, 2), 'two-space indent, no trailing newline, as json.dumps(indent=2, sort_keys=True)');
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.task_type, 'CAUSAL_LM');
  assert.equal(cfg.fan_in_fan_out, true);
  assert.deepEqual(cfg.target_modules, ['c_attn', 'mlp.c_proj']);
  assert.equal(cfg.r, 4);
  assert.equal(cfg.lora_alpha, 8);
  assert.equal(cfg.use_rslora, false);
  assert.equal(cfg.base_model_name_or_path, base);
  const raw = readFileSync(join(dir, ADAPTER_WEIGHTS_FILE));
  const header = JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString('utf8'));
  assert.deepEqual(header.__metadata__, { format: 'pt' });
  const keys = Object.keys(header).filter((k) => k !== '__metadata__');
  assert.equal(keys.length, 2 * 2 * 2);
  assert.deepEqual(header['base_model.model.transformer.h.1.attn.c_attn.lora_A.weight'].shape, [4, 32]);
  assert.deepEqual(header['base_model.model.transformer.h.1.attn.c_attn.lora_B.weight'].shape, [96, 4]);
  assert.deepEqual(header['base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight'].shape, [4, 128]);
  assert.deepEqual(header['base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight'].shape, [32, 4]);
  assert.deepEqual(readAdapterSettings(join(dir, ADAPTER_CONFIG_FILE)), {
    r: 4,
    alpha: 8,
    rslora: false,
    targets: ['c_attn', 'mlp.c_proj'],
    dropout: 0.05,
  });
  assert.throws(
    () => matchTargets(config, ['c_atn']),
    userError(/target "c_atn" matches no module.*attn\.c_attn, attn\.c_proj, mlp\.c_fc, mlp\.c_proj/),
  );
  assert.deepEqual(matchTargets(config, ['c_proj']).length, 4, 'c_proj names both projections, as in PEFT');
});

test('adapter = base + adapter: PyTorch (PEFT-style unmerged) equals our merged model; merge writes a plain GPT-2 folder', async (t) => {
  const base = hfFolder('lora-base-b', baseWeights, 'bare');
  const adapter = randomAdapter(config, ['c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'], 4, 8, true, 6);
  const dir = writeAdapter('adapter-b', base, adapter);
  const m = readModelFolder(dir);
  assert.equal(m.kind, 'adapter');
  const scale = 8 / Math.sqrt(4);
  // Check one merged value by hand: W'[i, o] = W[i, o] + scale · Σₖ B[o, k] A[k, i].
  const { a, b } = adapter.layers.get('transformer.h.1.mlp.c_fc')!;
  const [i, o] = [3, 77];
  let delta = 0;
  for (let k = 0; k < 4; k++) delta += b.data[o * 4 + k] * a.data[k * 32 + i];
  const w = baseWeights.get('transformer.h.1.mlp.c_fc.weight')!.data[i * 128 + o];
  assert.ok(Math.abs(m.weights.get('transformer.h.1.mlp.c_fc.weight')!.data[i * 128 + o] - (w + scale * delta)) < 1e-6);
  const merged = await ourLogits(dir, ids);
  const baseLogits = await ourLogits(base, ids);
  assert.ok(maxDiff(merged, baseLogits) > 0.01, 'the adapter changes the logits');
  const out = join(root, 'merged-b');
  const r = mergeAdapter(dir, out, () => 'bpe');
  assert.equal(r.modules, 8);
  assert.deepEqual(readdirSync(out).sort(), [
    'config.json',
    'generation_config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  assert.equal(readModelFolder(out).kind, 'huggingface');
  assert.equal(maxDiff(await ourLogits(out, ids), merged), 0);
  assert.throws(() => mergeAdapter(dir, out, () => 'bpe'), userError(/already exists/));
  assert.throws(() => mergeAdapter(base, join(root, 'merged-x'), () => 'bpe'), userError(/is not a LoRA adapter/));
  if (!hasTorch) return t.skip('PyTorch is not installed');
  const peft = torchLogits(base, ids, dir);
  assert.ok(maxDiff(merged, peft) < 1e-4, `ours (merged) vs PyTorch base + adapter: ${maxDiff(merged, peft)}`);
  assert.ok(
    maxDiff(torchLogits(out, ids), peft) < 1e-5,
    `merged folder vs base + adapter, both in PyTorch: ${maxDiff(torchLogits(out, ids), peft)}`,
  );
});

test('an adapter whose B is zero (LoRA at step 0) is exactly the base', async () => {
  const base = hfFolder('lora-base-c', baseWeights, 'prefixed');
  const dir = writeAdapter('adapter-c', base, randomAdapter(config, ['c_attn', 'mlp.c_fc'], 8, 16, false, 7, true));
  assert.equal(maxDiff(await ourLogits(dir, ids), await ourLogits(base, ids)), 0);
  const merged = mergeLora(baseWeights, randomAdapter(config, ['c_attn'], 2, 4, false, 8, true));
  for (const [n, w] of baseWeights) assert.deepEqual(merged.get(n)!.data, w.data, n);
});

test('a changed or missing base, and hostile adapter files, are refused with the reason', () => {
  const base = hfFolder('lora-base-d', baseWeights, 'prefixed');
  const adapter = randomAdapter(config, ['c_attn'], 2, 4, false, 9);
  const dir = writeAdapter('adapter-d', base, adapter);
  assert.equal(readModelFolder(dir).kind, 'adapter');
  const cfgPath = join(dir, ADAPTER_CONFIG_FILE);
  const good = readFileSync(cfgPath, 'utf8');
  const cases: [string, RegExp][] = [
    [good.replace('"LORA"', '"IA3"'), /peft_type is "IA3"/],
    [good.replace('"r": 2', '"r": 0'), /r must be a whole number/],
    [good.replace('"r": 2', '"r": 3'), /lora_A\.weight has shape \[2, 32\] but the config needs \[3, 32\]/],
    [good.replace('"lora_alpha": 4', '"lora_alpha": -4'), /lora_alpha must be a positive number/],
    [good.replace('"bias": "none"', '"bias": "all"'), /bias "all" is not supported/],
    [good.replace('"use_dora": false', '"use_dora": true'), /DoRA/],
    [good.replace('"rank_pattern": {}', '"rank_pattern": {"c_attn": 4}'), /rank_pattern is not supported/],
    [good.replace(/"target_modules": \[[^\]]*\]/, '"target_modules": ".*c_attn"'), /regular expression/],
    [good.replace(/"target_modules": \[[^\]]*\]/, '"target_modules": ["q_proj"]'), /"q_proj" matches no module/],
    [good.replace(/"target_modules": \[[^\]]*\]/, '"target_modules": ["c_attn", "mlp.c_fc"]'), /missing 4 tensor\(s\).*mlp\.c_fc\.lora_A/],
    ['{', /adapter_config\.json: not valid JSON/],
  ];
  for (const [text, re] of cases) {
    writeFileSync(cfgPath, text);
    assert.throws(() => readModelFolder(dir), userError(re), String(re));
  }
  writeFileSync(cfgPath, good);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  const goodWeights = readFileSync(weightsPath);
  const tensors = readSafetensors(weightsPath).tensors;
  const extra = new Map(tensors);
  extra.set('base_model.model.transformer.wte.lora_embedding_A', { shape: [2, 300], data: new Float32Array(600) });
  writeFileSync(weightsPath, encodeSafetensors(extra, { format: 'pt' }));
  assert.throws(() => readModelFolder(dir), userError(/unexpected tensor.*lora_embedding_A/));
  writeFileSync(weightsPath, goodWeights.subarray(0, 50));
  assert.throws(() => readModelFolder(dir), userError(/adapter_model\.safetensors/));
  writeFileSync(weightsPath, goodWeights);
  // The base changes under the adapter: refused, and so is a base that is gone.
  const changed = new Map(baseWeights);
  changed.set('transformer.wpe.weight', randomTensor([16, 32], new Rng(10), 0.2));
  writeFileSync(join(base, 'model.safetensors'), encodeSafetensors(changed, { format: 'pt' }));
  assert.throws(() => readModelFolder(dir), userError(/the base model has changed since the adapter was trained/));
  rmSync(base, { recursive: true });
  assert.throws(() => readModelFolder(dir), userError(/the adapter's base model is missing/));
  unlinkSync(join(dir, 'adapter_base.json'));
  assert.throws(() => readModelFolder(dir), userError(/does not record its base model .*which is not a folder here.*--base DIR/));
  writeFileSync(
    join(dir, 'adapter_base.json'),
    JSON.stringify({ path: '/x', weights_file: '../../etc/passwd', sha256: 'a'.repeat(64), bytes: 1 }),
  );
  assert.throws(() => readModelFolder(dir), userError(/weights_file must be a file name/));
  assert.ok(existsSync(dir));
});

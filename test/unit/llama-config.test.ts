import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { LLAMA_MAX_CONTEXT, fromLlamaConfigJson, toLlamaConfigJson } from '../../src/core/llama-config';
import { LlamaFamily, ModelConfig } from '../../src/core/model-config';
import { readHfFolder } from '../../src/core/hf-folder';
import { inverseFrequencies } from '../../src/core/rope';
import { weightShapes } from '../../src/core/weight-table';
import { REPO, tempDir, userError } from './helpers';

const root = tempDir('corpus-lab-llama-config-');
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

// config.json of real models as transformers 4 wrote them (rope_theta and rope_scaling at the top).
const REAL: Record<string, { json: Record<string, unknown>; config: ModelConfig }> = {
  'Llama-3.2-1B': {
    json: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 128000,
      eos_token_id: 128001,
      head_dim: 64,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 8192,
      max_position_embeddings: 131072,
      mlp_bias: false,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: 16,
      num_key_value_heads: 8,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: {
        factor: 32.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      rope_theta: 500000.0,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.45.0.dev0',
      use_cache: true,
      vocab_size: 128256,
    },
    config: llamaConfig(
      'llama',
      { vocabSize: 128256, layers: 16, heads: 32, width: 2048 },
      {
        kvHeads: 8,
        headDim: 64,
        mlpWidth: 8192,
        ropeTheta: 500000,
        ropeScaling: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 },
        tiedHead: true,
        normEps: 1e-5,
      },
    ),
  },
  'TinyLlama-1.1B': {
    json: {
      architectures: ['LlamaForCausalLM'],
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 5632,
      max_position_embeddings: 2048,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: 22,
      num_key_value_heads: 4,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 10000.0,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      transformers_version: '4.35.0',
      use_cache: true,
      vocab_size: 32000,
    },
    config: llamaConfig(
      'llama',
      { vocabSize: 32000, layers: 22, heads: 32, width: 2048, context: 2048 },
      {
        kvHeads: 4,
        headDim: 64,
        mlpWidth: 5632,
        ropeTheta: 10000,
        tiedHead: false,
        normEps: 1e-5,
      },
    ),
  },
  'Mistral-7B-v0.1': {
    json: {
      architectures: ['MistralForCausalLM'],
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: 4096,
      initializer_range: 0.02,
      intermediate_size: 14336,
      max_position_embeddings: 32768,
      model_type: 'mistral',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      sliding_window: 4096,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      transformers_version: '4.34.0.dev0',
      use_cache: true,
      vocab_size: 32000,
    },
    config: llamaConfig(
      'mistral',
      { vocabSize: 32000, layers: 32, heads: 32, width: 4096 },
      {
        kvHeads: 8,
        headDim: 128,
        mlpWidth: 14336,
        ropeTheta: 10000,
        tiedHead: false,
        normEps: 1e-5,
      },
    ),
  },
  'Qwen2.5-0.5B': {
    json: {
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 32768,
      max_window_layers: 24,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      use_mrope: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
    config: llamaConfig(
      'qwen2',
      { vocabSize: 151936, layers: 24, heads: 14, width: 896 },
      {
        kvHeads: 2,
        headDim: 64,
        mlpWidth: 4864,
        ropeTheta: 1000000,
        tiedHead: true,
        normEps: 1e-6,
      },
    ),
  },
  'Qwen3-0.6B': {
    json: {
      architectures: ['Qwen3ForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151645,
      head_dim: 128,
      hidden_act: 'silu',
      hidden_size: 1024,
      initializer_range: 0.02,
      intermediate_size: 3072,
      max_position_embeddings: 40960,
      max_window_layers: 28,
      model_type: 'qwen3',
      num_attention_heads: 16,
      num_hidden_layers: 28,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1000000,
      sliding_window: null,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.51.0',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
    },
    config: llamaConfig(
      'qwen3',
      { vocabSize: 151936, layers: 28, heads: 16, width: 1024 },
      {
        kvHeads: 8,
        headDim: 128,
        mlpWidth: 3072,
        ropeTheta: 1000000,
        tiedHead: true,
        normEps: 1e-6,
      },
    ),
  },
};

function llamaConfig(
  family: LlamaFamily,
  shape: Pick<ModelConfig, 'vocabSize' | 'layers' | 'heads' | 'width'> & { context?: number },
  blocks: Omit<NonNullable<ModelConfig['llama']>, 'family' | 'qkvBias' | 'qkNorm'>,
): ModelConfig {
  return {
    context: LLAMA_MAX_CONTEXT,
    ...shape,
    norm: 'rmsnorm',
    dropout: 0,
    bias: false,
    llama: { family, ...blocks, qkvBias: family === 'qwen2', qkNorm: family === 'qwen3' },
  };
}

const parse = (json: Record<string, unknown>) => fromLlamaConfigJson(JSON.stringify(json), 'config.json');

test('config.json of real Llama, TinyLlama, Mistral, Qwen2.5 and Qwen3 models (transformers 4) read as their shape', () => {
  for (const [name, { json, config }] of Object.entries(REAL)) assert.deepEqual(parse(json), config, name);
});

test('what config.json leaves out is what transformers 5.18 assumes for the family', () => {
  const { json } = REAL['Qwen3-0.6B'];
  const bare = (j: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(j).filter(([k]) => !keys.includes(k)));
  // Qwen3's head_dim is 128 whatever the width; Qwen2's, Llama's and Mistral's width / heads.
  assert.equal(parse(bare(json, 'head_dim')).llama!.headDim, 128);
  assert.equal(parse({ ...bare(REAL['Qwen2.5-0.5B'].json), head_dim: 32 }).llama!.headDim, 32);
  // Key/value heads: Llama's as many as heads, Mistral's 8, Qwen's 32.
  assert.equal(parse(bare(REAL['TinyLlama-1.1B'].json, 'num_key_value_heads')).llama!.kvHeads, 32);
  assert.equal(parse(bare(REAL['Mistral-7B-v0.1'].json, 'num_key_value_heads')).llama!.kvHeads, 8);
  assert.equal(parse({ ...bare(json, 'num_key_value_heads'), num_attention_heads: 32 }).llama!.kvHeads, 32);
  // An own head unless tied; eps 1e-6; theta 10,000; Llama's 2,048 positions; silu.
  const minimal = bare(
    REAL['TinyLlama-1.1B'].json,
    'tie_word_embeddings',
    'rms_norm_eps',
    'rope_theta',
    'rope_scaling',
    'max_position_embeddings',
    'hidden_act',
  );
  const l = parse(minimal);
  assert.deepEqual([l.llama!.tiedHead, l.llama!.normEps, l.llama!.ropeTheta, l.context], [false, 1e-6, 10000, 2048]);
  // A Llama 3 scaling without original_max_position_embeddings takes max_position_embeddings.
  const { original_max_position_embeddings: _, ...scaling } = REAL['Llama-3.2-1B'].json.rope_scaling as Record<string, unknown>;
  assert.equal(
    parse({ ...REAL['Llama-3.2-1B'].json, rope_scaling: scaling, max_position_embeddings: 2048 }).llama!.ropeScaling!.originalContext,
    2048,
  );
});

test("transformers 5's rope_parameters are read, and rope_scaling wins over them as in transformers 5", () => {
  const { rope_scaling: _s, rope_theta: _t, ...rest } = REAL['Llama-3.2-1B'].json;
  const v5 = { ...rest, rope_parameters: { ...(_s as object), rope_theta: 500000.0 } };
  assert.deepEqual(parse(v5), REAL['Llama-3.2-1B'].config);
  const both = { ...v5, rope_scaling: { rope_type: 'default' } };
  assert.equal(parse(both).llama!.ropeScaling, undefined);
  assert.equal(parse(both).llama!.ropeTheta, 10000); // rope_parameters' theta went with them: the default, as transformers 5.18 reads it
  assert.equal(parse({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 1234 } }).llama!.ropeTheta, 1234);
  // The older key "type" names the kind too.
  assert.throws(
    () => parse({ ...rest, rope_scaling: { type: 'linear', factor: 2 } }),
    userError(/rope_scaling of type "linear" \(linear position interpolation\) is not supported/),
  );
});

test('architectures may be left out or null, as a config saved without a model has it', () => {
  for (const architectures of [undefined, null])
    assert.deepEqual(parse({ ...REAL['Qwen3-0.6B'].json, architectures }), REAL['Qwen3-0.6B'].config);
});

test('the context is max_position_embeddings up to 4096 (rotary positions have no table to size)', () => {
  assert.equal(parse(REAL['Llama-3.2-1B'].json).context, 4096);
  assert.equal(parse({ ...REAL['Llama-3.2-1B'].json, max_position_embeddings: 1024 }).context, 1024);
});

test('options our model does not compute are refused in one line naming them', () => {
  const llama = REAL['Llama-3.2-1B'].json;
  const qwen3 = REAL['Qwen3-0.6B'].json;
  const qwen2 = REAL['Qwen2.5-0.5B'].json;
  const mistral = REAL['Mistral-7B-v0.1'].json;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...llama, hidden_act: 'gelu' }, /hidden_act "gelu" is not supported \(the SwiGLU MLP of these families uses silu\)$/],
    [{ ...llama, attention_bias: true }, /attention_bias true is not supported \(a bias on the attention projections, o_proj included\)$/],
    [{ ...qwen3, attention_bias: true }, /attention_bias true is not supported/],
    [{ ...llama, mlp_bias: true }, /mlp_bias true is not supported \(the MLP has no biases\)$/],
    [
      { ...llama, architectures: ['LlamaForSequenceClassification'] },
      /architectures \["LlamaForSequenceClassification"\] is not supported \(a llama model is LlamaForCausalLM\)$/,
    ],
    [
      { ...llama, rope_scaling: { rope_type: 'dynamic', factor: 2 } },
      /rope_scaling of type "dynamic" \(dynamic NTK scaling\) is not supported/,
    ],
    [
      { ...llama, rope_scaling: { rope_type: 'yarn', factor: 4 } },
      /\(YaRN scaling\) is not supported: Corpus Lab reads the default rotary positions and Llama 3's \("llama3"\)$/,
    ],
    [{ ...llama, rope_scaling: { rope_type: 'longrope' } }, /"longrope" \(LongRoPE scaling\)/],
    [{ ...llama, rope_scaling: { rope_type: 'su' } }, /"su" \(a rotary scaling Corpus Lab does not know\)/],
    [{ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope_scaling\.low_freq_factor must be a number \(got undefined\)$/],
    [{ ...llama, rope_scaling: 'llama3' }, /rope_scaling must be an object \(got "llama3"\)$/],
    [
      { ...llama, rope_parameters: { rope_type: 'default', partial_rotary_factor: 0.5 }, rope_scaling: null },
      /rope_parameters\.partial_rotary_factor 0\.5 is not supported/,
    ],
    [
      { ...mistral, sliding_window: 1024 },
      /sliding_window 1024 is not supported \(attention over the last 1024 tokens only: Corpus Lab attends over the whole context of 4096 tokens\)$/,
    ],
    [{ ...qwen2, use_sliding_window: true, sliding_window: 2048, max_window_layers: 12 }, /sliding_window 2048 is not supported/],
    [
      { ...qwen2, layer_types: ['full_attention', 'chunked_attention'] },
      /layer_types .* is not supported \(each layer must be "full_attention" or "sliding_attention"\)$/,
    ],
    [{ ...llama, hidden_size: undefined }, /config\.json: hidden_size is missing$/],
    [{ ...llama, num_attention_heads: 12.5 }, /num_attention_heads must be a whole number \(got 12\.5\)$/],
    [{ ...llama, tie_word_embeddings: 'yes' }, /tie_word_embeddings must be true or false \(got "yes"\)$/],
    [{ ...llama, num_key_value_heads: 5 }, /heads \(32\) must be divisible by key\/value heads \(5\)/],
  ];
  for (const [json, re] of cases) assert.throws(() => parse(json), userError(re), re.source);
  // A window as long as the context, or on no layer, changes nothing.
  assert.equal(parse({ ...mistral, sliding_window: 4096 }).context, 4096);
  assert.equal(parse({ ...mistral, sliding_window: null }).context, 4096);
  assert.equal(parse({ ...qwen2, use_sliding_window: true, sliding_window: 2048, max_window_layers: 24 }).layers, 24);
  assert.equal(
    parse({ ...qwen2, use_sliding_window: true, sliding_window: 2048, layer_types: Array(24).fill('full_attention') }).layers,
    24,
  );
});

test('a folder of another architecture is refused naming it, before its weights are read', () => {
  const dir = join(root, 'gemma');
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.safetensors'), 'not read');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['GemmaForCausalLM'], model_type: 'gemma' }));
  assert.throws(
    () => readHfFolder(dir),
    userError(/config\.json: the model is GemmaForCausalLM; Corpus Lab opens GPT-2, Llama, Mistral, Qwen2 and Qwen3 models$/),
  );
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'phi3' }));
  assert.throws(() => readHfFolder(dir), userError(/the model is phi3; Corpus Lab opens/));
});

const OURS: Record<LlamaFamily, ModelConfig> = {
  llama: llamaConfig(
    'llama',
    { vocabSize: 300, layers: 2, heads: 4, width: 64, context: 128 },
    {
      kvHeads: 2,
      headDim: 16,
      mlpWidth: 96,
      ropeTheta: 500000,
      ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 32 },
      tiedHead: true,
      normEps: 1e-5,
    },
  ),
  mistral: llamaConfig(
    'mistral',
    { vocabSize: 300, layers: 2, heads: 4, width: 64, context: 64 },
    {
      kvHeads: 4,
      headDim: 16,
      mlpWidth: 128,
      ropeTheta: 10000,
      tiedHead: false,
      normEps: 1e-6,
    },
  ),
  qwen2: llamaConfig(
    'qwen2',
    { vocabSize: 300, layers: 3, heads: 6, width: 48, context: 256 },
    {
      kvHeads: 2,
      headDim: 12,
      mlpWidth: 96,
      ropeTheta: 1000000,
      tiedHead: true,
      normEps: 1e-6,
    },
  ),
  qwen3: llamaConfig(
    'qwen3',
    { vocabSize: 300, layers: 2, heads: 4, width: 64, context: 64 },
    {
      kvHeads: 1,
      headDim: 32,
      mlpWidth: 96,
      ropeTheta: 1000000,
      tiedHead: false,
      normEps: 1e-6,
    },
  ),
};

test('toLlamaConfigJson writes each family so that it reads back as the same model', () => {
  for (const [family, config] of Object.entries(OURS)) {
    const withDropout = { ...config, dropout: 0.1 };
    const text = toLlamaConfigJson(withDropout, { tokenizer_kind: 'bpe' }, 7);
    const o = JSON.parse(text);
    assert.equal(o.model_type, family);
    assert.equal(o.eos_token_id, 7);
    assert.deepEqual(parse(o), withDropout, family);
  }
});

// transformers itself, where it is installed (CORPUS_LAB_PEFT_PYTHON names a Python with torch and transformers).
const PYTHON = process.env.CORPUS_LAB_PEFT_PYTHON ?? 'python3';
const hasTransformers = spawnSync(PYTHON, ['-c', 'import transformers, torch'], { encoding: 'utf8' }).status === 0;

test('transformers builds the same model from these config.json files and from ours: weights, head size, groups, rotary frequencies', (t) => {
  if (!hasTransformers) return t.skip(`transformers is not installed for ${PYTHON} (set CORPUS_LAB_PEFT_PYTHON)`);
  const cases: [string, string, ModelConfig][] = [
    ...Object.entries(REAL).map(([name, { json, config }]): [string, string, ModelConfig] => [name, JSON.stringify(json), config]),
    ...Object.entries(OURS).map(([family, config]): [string, string, ModelConfig] => [
      `ours-${family}`,
      toLlamaConfigJson(config, { tokenizer_kind: 'bpe' }),
      config,
    ]),
  ];
  const dirs = cases.map(([name, text]) => {
    const dir = join(root, `transformers-${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), text);
    return dir;
  });
  const out = execFileSync(PYTHON, [join(REPO, 'test/reference/llama_config.py'), ...dirs], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const described = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  cases.forEach(([name, , config], i) => {
    const theirs = described[i];
    const l = config.llama!;
    assert.equal(theirs.architecture, JSON.parse(cases[i][1]).architectures[0], name);
    assert.deepEqual(
      [
        theirs.vocab_size,
        theirs.layers,
        theirs.heads,
        theirs.width,
        theirs.kv_heads,
        theirs.head_dim,
        theirs.mlp_width,
        theirs.rms_norm_eps,
        theirs.tied,
      ],
      [config.vocabSize, config.layers, config.heads, config.width, l.kvHeads, l.headDim, l.mlpWidth, l.normEps, l.tiedHead],
      name,
    );
    assert.equal(theirs.rope_type, l.ropeScaling ? 'llama3' : 'default', name);
    const ours = inverseFrequencies(l);
    theirs.inv_freq.forEach((f: number, k: number) =>
      assert.ok(Math.abs(f - ours[k]) <= 1e-6 * ours[k], `${name}: inverse frequency ${k}: ${f} vs ${ours[k]}`),
    );
    // A tied model's state_dict lists lm_head.weight too (the embedding under a second name).
    const expected = Object.fromEntries(weightShapes(config));
    if (l.tiedHead) expected['lm_head.weight'] = [config.vocabSize, config.width];
    assert.deepEqual(theirs.weights, expected, name);
  });
});

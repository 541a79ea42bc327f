import { Message, UserError, isUserError, message } from './errors';
import { JsonObject, isObject, parseJsonObject } from './json';
import { Llama3RopeScaling, LlamaBlocks, LlamaFamily, ModelConfig, validateModelConfig } from './model-config';
import type { CorpusLabExtra } from './gpt2-config';

/** Each family's model class in transformers: config.json's `architectures`. */
export const LLAMA_ARCHITECTURES: Record<LlamaFamily, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

export function isLlamaFamily(modelType: unknown): modelType is LlamaFamily {
  return typeof modelType === 'string' && Object.prototype.hasOwnProperty.call(LLAMA_ARCHITECTURES, modelType);
}

/**
 * RoPE has no learned positions, so config.json's max_position_embeddings (Qwen's 32k, Llama 3's
 * 128k) is no limit on our side; it would only size the KV cache and attention masks. We cap it
 * here, which any text a CPU model reads or completes fits.
 */
export const LLAMA_MAX_CONTEXT = 4096;

/** What transformers 5.18 assumes for a key config.json leaves out, where the families differ. */
const DEFAULTS: Record<LlamaFamily, { kvHeads: number | 'heads'; headDim: number | 'width/heads'; maxPositions: number }> = {
  llama: { kvHeads: 'heads', headDim: 'width/heads', maxPositions: 2048 },
  mistral: { kvHeads: 8, headDim: 'width/heads', maxPositions: 131072 },
  qwen2: { kvHeads: 32, headDim: 'width/heads', maxPositions: 32768 },
  qwen3: { kvHeads: 32, headDim: 128, maxPositions: 32768 },
};

/**
 * A Llama, Mistral, Qwen2 or Qwen3 config.json (untrusted) as transformers 4 or 5 writes it, read
 * as transformers 5.18 reads it: every option that would make transformers compute something our
 * model does not is refused, naming it.
 */
export function fromLlamaConfigJson(text: string, source: string): ModelConfig {
  const o = parseJsonObject(text, source);
  const family = o.model_type;
  if (!isLlamaFamily(family)) throw new UserError('{0}: model_type is {1}, not a Llama-family model', source, JSON.stringify(family));
  const refuse = (key: string, why: Message): never => {
    throw new UserError('{0}: {1} {2} is not supported ({3})', source, key, JSON.stringify(o[key]), why);
  };
  const read = readers(o, source);
  if (o.architectures != null) {
    const a = o.architectures;
    if (!Array.isArray(a) || a.length !== 1 || a[0] !== LLAMA_ARCHITECTURES[family])
      refuse('architectures', message('a {0} model is {1}', family, LLAMA_ARCHITECTURES[family]));
  }
  if ((o.hidden_act ?? 'silu') !== 'silu') refuse('hidden_act', message('the SwiGLU MLP of these families uses silu'));
  if (family !== 'qwen2' && read.bool('attention_bias', false))
    refuse('attention_bias', message('a bias on the attention projections, o_proj included'));
  if (family === 'llama' && read.bool('mlp_bias', false)) refuse('mlp_bias', message('the MLP has no biases'));

  const d = DEFAULTS[family];
  const width = read.int('hidden_size');
  const heads = read.int('num_attention_heads');
  const kvHeads = o.num_key_value_heads == null ? (d.kvHeads === 'heads' ? heads : d.kvHeads) : read.int('num_key_value_heads');
  const headDim = o.head_dim == null ? (d.headDim === 'width/heads' ? Math.floor(width / heads) : d.headDim) : read.int('head_dim');
  const context = Math.min(read.int('max_position_embeddings', d.maxPositions), LLAMA_MAX_CONTEXT);
  checkSlidingWindow(o, family, context, read, refuse);
  const extra = isObject(o.corpus_lab) ? o.corpus_lab : {};
  const llama: LlamaBlocks = {
    family,
    kvHeads,
    headDim,
    mlpWidth: read.int('intermediate_size'),
    ...readRope(o, source, read.int('max_position_embeddings', d.maxPositions)),
    qkvBias: family === 'qwen2',
    qkNorm: family === 'qwen3',
    tiedHead: read.bool('tie_word_embeddings', false),
    normEps: read.num('rms_norm_eps', 1e-6),
  };
  const config: ModelConfig = {
    vocabSize: read.int('vocab_size'),
    context,
    layers: read.int('num_hidden_layers'),
    heads,
    width,
    norm: 'rmsnorm',
    dropout: typeof extra.dropout === 'number' ? extra.dropout : 0,
    bias: false,
    llama,
  };
  try {
    return validateModelConfig(config);
  } catch (e) {
    throw isUserError(e) ? new UserError('{0}: {1}', source, e.parts) : e;
  }
}

type Readers = ReturnType<typeof readers>;

function readers(o: JsonObject, source: string) {
  const present = (key: string, fallback: unknown) => {
    if (o[key] != null) return o[key];
    if (fallback === undefined) throw new UserError('{0}: {1} is missing', source, key);
    return fallback;
  };
  return {
    int(key: string, fallback?: number): number {
      const v = present(key, fallback);
      if (!Number.isSafeInteger(v)) throw new UserError('{0}: {1} must be a whole number (got {2})', source, key, JSON.stringify(v));
      return v as number;
    },
    num(key: string, fallback?: number): number {
      const v = present(key, fallback);
      if (typeof v !== 'number') throw new UserError('{0}: {1} must be a number (got {2})', source, key, JSON.stringify(v));
      return v;
    },
    bool(key: string, fallback?: boolean): boolean {
      const v = present(key, fallback);
      if (typeof v !== 'boolean') throw new UserError('{0}: {1} must be true or false (got {2})', source, key, JSON.stringify(v));
      return v;
    },
  };
}

/**
 * Sliding-window attention (Mistral's sliding_window, Qwen's use_sliding_window on the layers from
 * max_window_layers, or as layer_types says) masks keys more than the window behind: the same as
 * full attention while the window covers the whole context, which is all our model computes.
 */
function checkSlidingWindow(
  o: JsonObject,
  family: LlamaFamily,
  context: number,
  read: Readers,
  refuse: (key: string, why: Message) => never,
): void {
  const layerTypes = o.layer_types;
  if (layerTypes != null) {
    if (!Array.isArray(layerTypes) || layerTypes.some((t) => t !== 'full_attention' && t !== 'sliding_attention'))
      refuse('layer_types', message('each layer must be "full_attention" or "sliding_attention"'));
  }
  let window: number | undefined;
  if (family === 'mistral') {
    if (o.sliding_window !== null) window = read.int('sliding_window', 4096);
  } else if ((family === 'qwen2' || family === 'qwen3') && read.bool('use_sliding_window', false)) {
    window = read.int('sliding_window', 4096);
    const types = layerTypes as string[] | undefined;
    const firstSliding = read.int('max_window_layers', 28);
    const sliding = types ? types.includes('sliding_attention') : read.int('num_hidden_layers') > firstSliding;
    if (!sliding) window = undefined;
  }
  if (window !== undefined && window < context)
    refuse(
      'sliding_window',
      message('attention over the last {0} tokens only: Corpus Lab attends over the whole context of {1} tokens', window, context),
    );
}

const REFUSED_ROPE: Record<string, Message> = {
  linear: message('linear position interpolation'),
  dynamic: message('dynamic NTK scaling'),
  yarn: message('YaRN scaling'),
  longrope: message('LongRoPE scaling'),
};

/**
 * The rotary embedding's base and Llama 3 scaling, from transformers 4's rope_theta + rope_scaling
 * or transformers 5's rope_parameters (rope_scaling first, as transformers 5 reads it).
 */
function readRope(o: JsonObject, source: string, maxPositions: number): { ropeTheta: number; ropeScaling?: Llama3RopeScaling } {
  const key = o.rope_scaling != null ? 'rope_scaling' : 'rope_parameters';
  const rope = o[key] ?? {};
  if (!isObject(rope)) throw new UserError('{0}: {1} must be an object (got {2})', source, key, JSON.stringify(rope));
  const type = rope.rope_type ?? rope.type ?? 'default';
  const field = (name: string, fallback?: number): number => {
    const v = rope[name] ?? fallback;
    if (typeof v !== 'number') throw new UserError('{0}: {1}.{2} must be a number (got {3})', source, key, name, JSON.stringify(v));
    return v;
  };
  const ropeTheta = field('rope_theta', typeof o.rope_theta === 'number' ? o.rope_theta : 10000);
  if (rope.partial_rotary_factor != null && rope.partial_rotary_factor !== 1)
    throw new UserError(
      '{0}: {1}.partial_rotary_factor {2} is not supported (rotary positions over the whole head)',
      source,
      key,
      JSON.stringify(rope.partial_rotary_factor),
    );
  if (type === 'default') return { ropeTheta };
  if (type === 'llama3') {
    const ropeScaling = {
      factor: field('factor'),
      lowFreqFactor: field('low_freq_factor'),
      highFreqFactor: field('high_freq_factor'),
      originalContext: field('original_max_position_embeddings', maxPositions),
    };
    return { ropeTheta, ropeScaling };
  }
  const named = typeof type === 'string' && Object.prototype.hasOwnProperty.call(REFUSED_ROPE, type) ? REFUSED_ROPE[type] : undefined;
  throw new UserError(
    '{0}: {1} of type {2} ({3}) is not supported: Corpus Lab reads the default rotary positions and Llama 3\'s ("llama3")',
    source,
    key,
    JSON.stringify(type),
    named ?? message('a rotary scaling Corpus Lab does not know'),
  );
}

/**
 * config.json for a Llama-family model (+ our own block) as transformers 5.18's save_pretrained
 * writes it for the family, plus the top-level rope_theta and rope_scaling transformers 4 reads.
 */
export function toLlamaConfigJson(
  c: ModelConfig,
  extra: Omit<CorpusLabExtra, 'format_version' | 'norm' | 'bias'>,
  eosTokenId?: number,
): string {
  const l = c.llama;
  if (!l) throw new Error('internal: toLlamaConfigJson needs a Llama-family config');
  if (l.qkvBias !== (l.family === 'qwen2') || l.qkNorm !== (l.family === 'qwen3'))
    throw new Error(
      `internal: a ${l.family} model ${l.qkvBias ? 'with' : 'without'} q/k/v biases and ${l.qkNorm ? 'with' : 'without'} q/k norms`,
    );
  const scaling = l.ropeScaling && {
    rope_type: 'llama3',
    factor: l.ropeScaling.factor,
    low_freq_factor: l.ropeScaling.lowFreqFactor,
    high_freq_factor: l.ropeScaling.highFreqFactor,
    original_max_position_embeddings: l.ropeScaling.originalContext,
  };
  const byFamily: Record<LlamaFamily, JsonObject> = {
    llama: { attention_bias: false, mlp_bias: false, pretraining_tp: 1 },
    mistral: { sliding_window: null },
    qwen2: qwenWindow(c),
    qwen3: { attention_bias: false, ...qwenWindow(c) },
  };
  const config = {
    architectures: [LLAMA_ARCHITECTURES[l.family]],
    model_type: l.family,
    ...byFamily[l.family],
    attention_dropout: 0,
    bos_token_id: eosTokenId ?? null,
    eos_token_id: eosTokenId ?? null,
    head_dim: l.headDim,
    hidden_act: 'silu',
    hidden_size: c.width,
    initializer_range: 0.02,
    intermediate_size: l.mlpWidth,
    max_position_embeddings: c.context,
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    num_key_value_heads: l.kvHeads,
    rms_norm_eps: l.normEps,
    rope_parameters: { rope_theta: l.ropeTheta, ...(scaling ?? { rope_type: 'default' }) },
    rope_theta: l.ropeTheta,
    rope_scaling: scaling ?? null,
    tie_word_embeddings: l.tiedHead,
    use_cache: true,
    vocab_size: c.vocabSize,
    dtype: 'float32',
    corpus_lab: { ...extra, format_version: 1, norm: c.norm, bias: c.bias, dropout: c.dropout },
  };
  return JSON.stringify(config, null, 2) + '\n';
}

function qwenWindow(c: ModelConfig): JsonObject {
  return {
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: c.layers,
    layer_types: Array.from({ length: c.layers }, () => 'full_attention'),
  };
}

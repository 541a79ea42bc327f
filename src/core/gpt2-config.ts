import { UserError, isUserError } from './errors';
import { isObject, parseJsonObject } from './json';
import { ModelConfig, validateModelConfig } from './model-config';

export interface CorpusLabExtra {
  format_version: 1;
  norm: ModelConfig['norm'];
  bias: boolean;
  tokenizer_kind: string;
  [key: string]: unknown;
}

/** Hugging Face GPT-2 config.json for a model (+ our own block), so transformers can load the folder. */
export function toGpt2ConfigJson(
  c: ModelConfig,
  extra: Omit<CorpusLabExtra, 'format_version' | 'norm' | 'bias'>,
  eosTokenId?: number,
): string {
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.context,
    n_ctx: c.context,
    n_embd: c.width,
    n_layer: c.layers,
    n_head: c.heads,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: c.dropout,
    embd_pdrop: c.dropout,
    attn_pdrop: c.dropout,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    bos_token_id: eosTokenId ?? null,
    eos_token_id: eosTokenId ?? null,
    torch_dtype: 'float32',
    corpus_lab: { ...extra, format_version: 1, norm: c.norm, bias: c.bias },
  };
  return JSON.stringify(config, null, 2) + '\n';
}

/** Reads a config.json written by toGpt2ConfigJson (or a plain GPT-2 one); untrusted input. */
export function fromGpt2ConfigJson(text: string, source: string): ModelConfig {
  const o = parseJsonObject(text, source);
  if (o.model_type !== 'gpt2') throw new UserError('{0}: model_type is {1}, expected "gpt2"', source, JSON.stringify(o.model_type));
  const int = (key: string): number => {
    const v = o[key];
    if (!Number.isSafeInteger(v)) throw new UserError('{0}: {1} must be a whole number (got {2})', source, key, JSON.stringify(v));
    return v as number;
  };
  if (o.n_inner !== null && o.n_inner !== undefined && o.n_inner !== 4 * int('n_embd')) {
    throw new UserError('{0}: n_inner {1} is not supported (Corpus Lab uses 4 × n_embd)', source, JSON.stringify(o.n_inner));
  }
  if (o.activation_function !== undefined && o.activation_function !== 'gelu_new') {
    throw new UserError('{0}: activation_function {1} is not supported (gelu_new)', source, JSON.stringify(o.activation_function));
  }
  const extra = isObject(o.corpus_lab) ? o.corpus_lab : {};
  const dropout = o.resid_pdrop ?? 0;
  if (typeof dropout !== 'number') throw new UserError('{0}: resid_pdrop must be a number', source);
  const config = {
    vocabSize: int('vocab_size'),
    context: int('n_positions'),
    layers: int('n_layer'),
    heads: int('n_head'),
    width: int('n_embd'),
    norm: (extra.norm ?? 'layernorm') as ModelConfig['norm'],
    dropout,
    bias: (extra.bias ?? true) as boolean,
  };
  try {
    return validateModelConfig(config);
  } catch (e) {
    throw isUserError(e) ? new UserError('{0}: {1}', source, e.parts) : e;
  }
}

import { UserError, isUserError } from './errors';
import { JsonObject, isObject, parseJsonObject } from './json';
import { ModelConfig, validateModelConfig } from './model-config';
import { DYT_ARCHITECTURE, DYT_MODEL_TYPE } from './dyt';

export interface CorpusLabExtra {
  format_version: 1;
  norm: ModelConfig['norm'];
  bias: boolean;
  tokenizer_kind: string;
  [key: string]: unknown;
}

/**
 * config.json for a model (+ our own block). A LayerNorm model's is Hugging Face GPT-2's, so
 * transformers loads the folder. A Dynamic Tanh model's has its own model_type and its shape
 * under its own keys: GPT-2 has no Dynamic Tanh, and transformers must refuse it rather than
 * load the weights into a LayerNorm model (AutoModel does not know the type; GPT2LMHeadModel
 * builds its default shape, which the weights do not fit).
 */
export function toGpt2ConfigJson(
  c: ModelConfig,
  extra: Omit<CorpusLabExtra, 'format_version' | 'norm' | 'bias'>,
  eosTokenId?: number,
): string {
  const shape =
    c.norm === 'dyt'
      ? {
          architectures: [DYT_ARCHITECTURE],
          model_type: DYT_MODEL_TYPE,
          vocab_size: c.vocabSize,
          context: c.context,
          width: c.width,
          layers: c.layers,
          heads: c.heads,
          dropout: c.dropout,
        }
      : {
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
        };
  const config = {
    ...shape,
    tie_word_embeddings: true,
    bos_token_id: eosTokenId ?? null,
    eos_token_id: eosTokenId ?? null,
    torch_dtype: 'float32',
    corpus_lab: { ...extra, format_version: 1, norm: c.norm, bias: c.bias },
  };
  return JSON.stringify(config, null, 2) + '\n';
}

/**
 * Reads a config.json written by toGpt2ConfigJson, a plain GPT-2 one, or a Dynamic Tanh
 * checkpoint's from before it had a model_type of its own (gpt2 with corpus_lab.norm "dyt"); untrusted input.
 */
export function fromGpt2ConfigJson(text: string, source: string): ModelConfig {
  const o = parseJsonObject(text, source);
  if (o.model_type !== 'gpt2' && o.model_type !== DYT_MODEL_TYPE)
    throw new UserError('{0}: model_type is {1}, expected "gpt2" or "{2}"', source, JSON.stringify(o.model_type), DYT_MODEL_TYPE);
  const int = (key: string): number => {
    const v = o[key];
    if (!Number.isSafeInteger(v)) throw new UserError('{0}: {1} must be a whole number (got {2})', source, key, JSON.stringify(v));
    return v as number;
  };
  const extra = isObject(o.corpus_lab) ? o.corpus_lab : {};
  const dyt = o.model_type === DYT_MODEL_TYPE;
  if (dyt && extra.norm !== undefined && extra.norm !== 'dyt')
    throw new UserError(
      '{0}: corpus_lab.norm is {1}, but model_type {2} is a Dynamic Tanh model',
      source,
      JSON.stringify(extra.norm),
      DYT_MODEL_TYPE,
    );
  if (!dyt) checkGpt2Only(o, source, int);
  const dropout = (dyt ? o.dropout : o.resid_pdrop) ?? 0;
  if (typeof dropout !== 'number') throw new UserError('{0}: {1} must be a number', source, dyt ? 'dropout' : 'resid_pdrop');
  const config = {
    vocabSize: int('vocab_size'),
    context: int(dyt ? 'context' : 'n_positions'),
    layers: int(dyt ? 'layers' : 'n_layer'),
    heads: int(dyt ? 'heads' : 'n_head'),
    width: int(dyt ? 'width' : 'n_embd'),
    norm: (dyt ? 'dyt' : (extra.norm ?? 'layernorm')) as ModelConfig['norm'],
    dropout,
    bias: (extra.bias ?? true) as boolean,
  };
  try {
    return validateModelConfig(config);
  } catch (e) {
    throw isUserError(e) ? new UserError('{0}: {1}', source, e.parts) : e;
  }
}

/** GPT-2 options Corpus Lab's model does not have. */
function checkGpt2Only(o: JsonObject, source: string, int: (key: string) => number): void {
  if (o.n_inner !== null && o.n_inner !== undefined && o.n_inner !== 4 * int('n_embd')) {
    throw new UserError('{0}: n_inner {1} is not supported (Corpus Lab uses 4 × n_embd)', source, JSON.stringify(o.n_inner));
  }
  if (o.activation_function !== undefined && o.activation_function !== 'gelu_new') {
    throw new UserError('{0}: activation_function {1} is not supported (gelu_new)', source, JSON.stringify(o.activation_function));
  }
}

/**
 * A Dynamic Tanh model from before the embedding scale (core/dyt.ts): config.json of model_type
 * gpt2 with corpus_lab.norm "dyt". It ran with the scale fixed at 1.
 */
export function isLegacyDytConfig(text: string, source: string): boolean {
  const o = parseJsonObject(text, source);
  return o.model_type === 'gpt2' && isObject(o.corpus_lab) && o.corpus_lab.norm === 'dyt';
}

import { Message, UserError, message } from './errors';

export type NormKind = 'layernorm' | 'dyt' | 'rmsnorm';

/** The Hugging Face families with Llama-style blocks: each is written as its own config.json (core/llama-config.ts). */
export type LlamaFamily = 'llama' | 'mistral' | 'qwen2' | 'qwen3';

/**
 * Llama 3's RoPE frequency adjustment (transformers' rope_type "llama3"): wavelengths past
 * original context / lowFreqFactor are slowed by `factor`, those under original / highFreqFactor
 * kept, and the band between blended.
 */
export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContext: number;
}

/**
 * What Llama-family blocks have instead of GPT-2's (LitGPT's config fields): RMSNorm, rotary
 * positions, grouped-query attention, a SwiGLU MLP of its own width, no biases but Qwen2's on
 * q/k/v, Qwen3's RMSNorm on each head's q and k, and a head tied to the embedding or its own.
 */
export interface LlamaBlocks {
  family: LlamaFamily;
  /** Key/value heads; each serves heads / kvHeads query heads (grouped-query attention). */
  kvHeads: number;
  headDim: number;
  /** The SwiGLU MLP's hidden width (intermediate_size). */
  mlpWidth: number;
  ropeTheta: number;
  ropeScaling?: Llama3RopeScaling;
  qkvBias: boolean;
  qkNorm: boolean;
  tiedHead: boolean;
  normEps: number;
}

/** The shape of a GPT (docs/DESIGN.md §4). Everything needed to build the network and nothing else. */
export interface ModelConfig {
  vocabSize: number;
  context: number;
  layers: number;
  heads: number;
  width: number;
  norm: NormKind;
  dropout: number;
  /** Biases in linear layers and norms (nanoGPT's `bias`); false is a little faster. */
  bias: boolean;
  /** Llama-family blocks (norm "rmsnorm", bias false); absent: GPT-2's. */
  llama?: LlamaBlocks;
}

/** The fields a user may set (the vocabulary size comes from the tokenizer). */
export const MODEL_OPTION_KEYS = [
  'context',
  'layers',
  'heads',
  'width',
  'norm',
  'dropout',
  'bias',
] as const satisfies readonly (keyof ModelConfig)[];
export type ModelOptionKey = (typeof MODEL_OPTION_KEYS)[number];

/** The blocks a model trained from scratch is built of: GPT-2's, or Llama's (withArch). */
export const ARCHS = ['gpt2', 'llama'] as const;
export type Arch = (typeof ARCHS)[number];

/**
 * A shape with Llama blocks instead of GPT-2's, at GPT-2's parameter budget per block (the
 * block-vs-block experiment): grouped-query attention with half as many key/value heads (when the
 * heads are even), a SwiGLU MLP as wide as that leaves room for (3 × width at the presets), rotary
 * positions (θ = 10,000, ample for these contexts), RMSNorm, no biases, the head tied to the
 * embedding as in Llama 3.2 1B and SmolLM2. GPT-2's learned positions and biases are the only
 * parameters it does not match (about 1 % at the presets).
 */
export function withArch(c: ModelConfig, arch: Arch | undefined): ModelConfig {
  if (arch === undefined || arch === 'gpt2') return c;
  if (arch !== 'llama') throw new UserError('arch must be one of {0} (got "{1}")', ARCHS.join(', '), String(arch));
  if (c.norm !== MODEL_DEFAULTS.norm) {
    throw new UserError('norm {0} is for GPT-2 blocks: Llama blocks normalise with RMSNorm', JSON.stringify(c.norm));
  }
  if (c.width % c.heads !== 0) throw new UserError('width ({0}) must be divisible by heads ({1})', c.width, c.heads);
  const w = c.width;
  const headDim = w / c.heads;
  const kvHeads = c.heads % 2 === 0 ? c.heads / 2 : c.heads;
  const attention = 2 * w * w + 2 * w * kvHeads * headDim;
  const mlpWidth = Math.max(8, 8 * Math.round((12 * w * w - attention) / (3 * w) / 8));
  return {
    ...c,
    norm: 'rmsnorm',
    bias: false,
    llama: {
      family: 'llama',
      kvHeads,
      headDim,
      mlpWidth,
      ropeTheta: 10000,
      qkvBias: false,
      qkNorm: false,
      tiedHead: true,
      normEps: 1e-5,
    },
  };
}

/**
 * The key/value head each query head reads under grouped-query attention: query head j reads
 * ⌊j / (heads / kvHeads)⌋, as transformers' repeat_kv lays them out. Undefined when every query
 * head has its own keys and values (GPT-2, and Llama blocks without grouping).
 */
export function kvHeadOfEachHead(c: Pick<ModelConfig, 'heads' | 'llama'>): number[] | undefined {
  const kvHeads = c.llama?.kvHeads ?? c.heads;
  if (kvHeads === c.heads) return undefined;
  const group = c.heads / kvHeads;
  return Array.from({ length: c.heads }, (_, j) => Math.floor(j / group));
}

/** What a model is unless a preset or an option says otherwise. */
export const MODEL_DEFAULTS = { norm: 'layernorm', bias: true } as const satisfies Partial<ModelConfig>;

export type PresetName = 'tiny' | 'small';

export interface Preset {
  layers: number;
  heads: number;
  width: number;
  context: number;
  batch: number;
  dropout: number;
}

export const PRESETS: Record<PresetName, Preset> = {
  // nanoGPT's CPU recipe: the standard benchmark config.
  tiny: { layers: 4, heads: 4, width: 128, context: 64, batch: 12, dropout: 0 },
  small: { layers: 6, heads: 6, width: 192, context: 128, batch: 12, dropout: 0.1 },
};

export function presetNamed(name: string): Preset {
  if (!Object.prototype.hasOwnProperty.call(PRESETS, name)) {
    throw new UserError('unknown preset "{0}": choose one of {1}', name, Object.keys(PRESETS).join(', '));
  }
  return PRESETS[name as PresetName];
}

/** The most tokens a vocabulary may have (the largest real ones, Gemma's and BLOOM's, have about 256k). */
export const MAX_VOCAB_SIZE = 1 << 20;

export function validateModelConfig(c: ModelConfig): ModelConfig {
  const positive = (name: Message, v: number, max: number) => {
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw new UserError('{0} must be a whole number from 1 to {1} (got {2})', name, max, v);
    }
  };
  positive(message('vocab size'), c.vocabSize, MAX_VOCAB_SIZE);
  positive(message('context'), c.context, 8192);
  positive(message('layers'), c.layers, 256);
  positive(message('heads'), c.heads, 256);
  positive(message('width'), c.width, 16384);
  if (!c.llama && c.width % c.heads !== 0) {
    throw new UserError('width ({0}) must be divisible by heads ({1})', c.width, c.heads);
  }
  if (c.llama) validateLlamaBlocks(c, c.llama, positive);
  else if (c.norm !== 'layernorm' && c.norm !== 'dyt') {
    throw new UserError('norm must be "layernorm" or "dyt" (got "{0}")', String(c.norm));
  }
  if (typeof c.bias !== 'boolean') throw new UserError('bias must be true or false (got {0})', JSON.stringify(c.bias));
  if (!(c.dropout >= 0 && c.dropout < 1)) {
    throw new UserError('dropout must be at least 0 and below 1 (got {0})', c.dropout);
  }
  return c;
}

function validateLlamaBlocks(c: ModelConfig, l: LlamaBlocks, positive: (name: Message, v: number, max: number) => void): void {
  if (c.norm !== 'rmsnorm') throw new UserError('Llama-family blocks normalise with RMSNorm (got norm "{0}")', String(c.norm));
  if (c.bias) throw new UserError('Llama-family blocks have no biases but q/k/v ones (qkvBias)');
  positive(message('key/value heads'), l.kvHeads, c.heads);
  positive(message('head size'), l.headDim, 1024);
  positive(message('MLP width'), l.mlpWidth, 1 << 18);
  if (c.heads % l.kvHeads !== 0) {
    throw new UserError('heads ({0}) must be divisible by key/value heads ({1})', c.heads, l.kvHeads);
  }
  if (l.headDim % 2 !== 0) throw new UserError('head size must be even for rotary positions (got {0})', l.headDim);
  const finite = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0)) throw new UserError('{0} must be a positive number (got {1})', name, JSON.stringify(v));
  };
  finite('rope_theta', l.ropeTheta);
  finite('rms_norm_eps', l.normEps);
  if (l.ropeScaling) {
    const { factor, lowFreqFactor, highFreqFactor, originalContext } = l.ropeScaling;
    finite('rope factor', factor);
    finite('low_freq_factor', lowFreqFactor);
    finite('high_freq_factor', highFreqFactor);
    finite('original_max_position_embeddings', originalContext);
    if (!(highFreqFactor > lowFreqFactor)) {
      throw new UserError('high_freq_factor ({0}) must be above low_freq_factor ({1})', highFreqFactor, lowFreqFactor);
    }
  }
}

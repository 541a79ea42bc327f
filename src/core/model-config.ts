import { Message, UserError, message } from './errors';

export type NormKind = 'layernorm' | 'dyt';

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
  if (c.width % c.heads !== 0) {
    throw new UserError('width ({0}) must be divisible by heads ({1})', c.width, c.heads);
  }
  if (c.norm !== 'layernorm' && c.norm !== 'dyt') {
    throw new UserError('norm must be "layernorm" or "dyt" (got "{0}")', String(c.norm));
  }
  if (typeof c.bias !== 'boolean') throw new UserError('bias must be true or false (got {0})', JSON.stringify(c.bias));
  if (!(c.dropout >= 0 && c.dropout < 1)) {
    throw new UserError('dropout must be at least 0 and below 1 (got {0})', c.dropout);
  }
  return c;
}

import { ModelConfig } from './model-config';
import { DYT_INIT, EMBED_SCALE } from './dyt';

export type Init = { normal: number } | { fill: number };

/** One trainable weight: its shape (Conv1D layout [in, out] for linear layers), initial values, and whether AdamW decays it. */
export interface WeightSpec {
  shape: number[];
  init: Init;
  decay: boolean;
}

/**
 * Every trainable weight of a GPT (docs/DESIGN.md §4), by Hugging Face GPT-2 name, in a fixed order. The
 * head is tied to transformer.wte.weight. GPT-2's initialisation: N(0, 0.02), residual projections
 * N(0, 0.02/√(2·layers)); norms start at 1, biases at 0. Matrices decay. Dynamic Tanh adds each
 * norm's α and, last, the embedding scale, started as core/dyt.ts says.
 */
export function weightTable(c: ModelConfig): Map<string, WeightSpec> {
  const w = c.width;
  const table = new Map<string, WeightSpec>();
  const residualStd = 0.02 / Math.sqrt(2 * c.layers);
  const matrix = (name: string, shape: number[], std = 0.02) => table.set(name, { shape, init: { normal: std }, decay: true });
  const vector = (name: string, n: number, value: number) => table.set(name, { shape: [n], init: { fill: value }, decay: false });
  const bias = (name: string, n: number) => c.bias && vector(name, n, 0);
  const linear = (prefix: string, inputs: number, outputs: number, std?: number) => {
    matrix(`${prefix}.weight`, [inputs, outputs], std);
    bias(`${prefix}.bias`, outputs);
  };
  const norm = (prefix: string) => {
    vector(`${prefix}.weight`, w, 1);
    bias(`${prefix}.bias`, w);
    if (c.norm === 'dyt') vector(`${prefix}.alpha`, 1, DYT_INIT.alpha);
  };

  matrix('transformer.wte.weight', [c.vocabSize, w]);
  matrix('transformer.wpe.weight', [c.context, w]);
  for (let i = 0; i < c.layers; i++) {
    const p = `transformer.h.${i}`;
    norm(`${p}.ln_1`);
    linear(`${p}.attn.c_attn`, w, 3 * w);
    linear(`${p}.attn.c_proj`, w, w, residualStd);
    norm(`${p}.ln_2`);
    linear(`${p}.mlp.c_fc`, w, 4 * w);
    linear(`${p}.mlp.c_proj`, 4 * w, w, residualStd);
  }
  norm('transformer.ln_f');
  if (c.norm === 'dyt') vector(EMBED_SCALE, 1, DYT_INIT.embedScale);
  return table;
}

export function weightShapes(c: ModelConfig): Map<string, number[]> {
  return new Map([...weightTable(c)].map(([name, spec]) => [name, spec.shape]));
}

/**
 * The tensors of a Hugging Face GPT-2 folder for this model: a model without biases still has
 * them there (all zero), so GPT2LMHeadModel loads it.
 */
export function gpt2TensorShapes(c: ModelConfig): Map<string, number[]> {
  return weightShapes({ ...c, bias: true });
}

/** Trainable parameters (the head is tied to the token embedding, so it adds none). */
export function parameterCount(c: ModelConfig): number {
  let n = 0;
  for (const { shape } of weightTable(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

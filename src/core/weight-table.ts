import { LlamaBlocks, ModelConfig } from './model-config';
import { DYT_INIT, EMBED_SCALE } from './dyt';

export type Init = { normal: number } | { fill: number };

/** One trainable weight: its shape (linear layers: GPT-2's Conv1D [in, out], Llama's nn.Linear [out, in]), initial values, and whether AdamW decays it. */
export interface WeightSpec {
  shape: number[];
  init: Init;
  decay: boolean;
}

/**
 * Every trainable weight of a model (docs/DESIGN.md §4), by its Hugging Face name, in a fixed order:
 * the weight-name table of its family. GPT-2's head is tied to transformer.wte.weight. GPT-2's initialisation: N(0, 0.02), residual projections
 * N(0, 0.02/√(2·layers)); norms start at 1, biases at 0. Matrices decay. Dynamic Tanh adds each
 * norm's α and, last, the embedding scale, started as core/dyt.ts says.
 */
export function weightTable(c: ModelConfig): Map<string, WeightSpec> {
  const table = new Map<string, WeightSpec>();
  const residualStd = 0.02 / Math.sqrt(2 * c.layers);
  const matrix = (name: string, shape: number[], std = 0.02) => table.set(name, { shape, init: { normal: std }, decay: true });
  const vector = (name: string, n: number, value: number) => table.set(name, { shape: [n], init: { fill: value }, decay: false });
  if (c.llama) llamaWeights(c, c.llama, matrix, vector, residualStd);
  else gpt2Weights(c, matrix, vector, residualStd);
  return table;
}

type AddMatrix = (name: string, shape: number[], std?: number) => void;
type AddVector = (name: string, n: number, value: number) => void;

/** GPT-2's, in Conv1D layout [in, out]; the head is tied to the token embedding. */
function gpt2Weights(c: ModelConfig, matrix: AddMatrix, vector: AddVector, residualStd: number): void {
  const w = c.width;
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
}

/**
 * Llama's (and Mistral's, Qwen2's, Qwen3's), in nn.Linear layout [out, in]. Initialised as
 * GPT-2's (transformers uses N(0, 0.02) everywhere; the residual projections' smaller std trains
 * better from scratch, as in GPT-2).
 */
function llamaWeights(c: ModelConfig, l: LlamaBlocks, matrix: AddMatrix, vector: AddVector, residualStd: number): void {
  const w = c.width;
  const q = c.heads * l.headDim;
  const kv = l.kvHeads * l.headDim;
  matrix(LLAMA_NAMES.embedding, [c.vocabSize, w]);
  for (let i = 0; i < c.layers; i++) {
    const n = llamaBlockNames(i);
    vector(n.attentionNorm, w, 1);
    matrix(`${n.q}.weight`, [q, w]);
    matrix(`${n.k}.weight`, [kv, w]);
    matrix(`${n.v}.weight`, [kv, w]);
    if (l.qkvBias) for (const [p, size] of [[n.q, q], [n.k, kv], [n.v, kv]] as const) vector(`${p}.bias`, size, 0);
    if (l.qkNorm) {
      vector(n.qNorm, l.headDim, 1);
      vector(n.kNorm, l.headDim, 1);
    }
    matrix(`${n.o}.weight`, [w, q], residualStd);
    vector(n.mlpNorm, w, 1);
    matrix(`${n.gate}.weight`, [l.mlpWidth, w]);
    matrix(`${n.up}.weight`, [l.mlpWidth, w]);
    matrix(`${n.down}.weight`, [w, l.mlpWidth], residualStd);
  }
  vector(LLAMA_NAMES.finalNorm, w, 1);
  if (!l.tiedHead) matrix(LLAMA_NAMES.head, [c.vocabSize, w]);
}

/** Hugging Face's names of a Llama-family model's weights (LlamaForCausalLM and its kin). */
export const LLAMA_NAMES = {
  embedding: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  head: 'lm_head.weight',
} as const;

/** The weights of block i (linear layers as module paths, without `.weight`/`.bias`). */
export function llamaBlockNames(i: number) {
  const p = `model.layers.${i}`;
  return {
    attentionNorm: `${p}.input_layernorm.weight`,
    q: `${p}.self_attn.q_proj`,
    k: `${p}.self_attn.k_proj`,
    v: `${p}.self_attn.v_proj`,
    o: `${p}.self_attn.o_proj`,
    qNorm: `${p}.self_attn.q_norm.weight`,
    kNorm: `${p}.self_attn.k_norm.weight`,
    mlpNorm: `${p}.post_attention_layernorm.weight`,
    gate: `${p}.mlp.gate_proj`,
    up: `${p}.mlp.up_proj`,
    down: `${p}.mlp.down_proj`,
  };
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

/** Trainable parameters (a head tied to the token embedding adds none). */
export function parameterCount(c: ModelConfig): number {
  let n = 0;
  for (const { shape } of weightTable(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

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
  const names = modelNames(c);
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

  matrix(`${names.embedding}.weight`, [c.vocabSize, w]);
  matrix(`${names.positions}.weight`, [c.context, w]);
  for (let i = 0; i < c.layers; i++) {
    const n = names.block(i);
    norm(n.attentionNorm);
    linear(n.qkv!, w, 3 * w);
    linear(n.o, w, w, residualStd);
    norm(n.mlpNorm);
    linear(n.up, w, 4 * w);
    linear(n.down, 4 * w, w, residualStd);
  }
  norm(names.finalNorm);
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
  const names = modelNames(c);
  matrix(`${names.embedding}.weight`, [c.vocabSize, w]);
  for (let i = 0; i < c.layers; i++) {
    const n = names.block(i);
    vector(`${n.attentionNorm}.weight`, w, 1);
    const projections = [
      [n.q!, q],
      [n.k!, kv],
      [n.v!, kv],
    ] as const;
    for (const [p, size] of projections) {
      matrix(`${p}.weight`, [size, w]);
      if (l.qkvBias) vector(`${p}.bias`, size, 0);
    }
    if (l.qkNorm) {
      vector(`${n.qNorm}.weight`, l.headDim, 1);
      vector(`${n.kNorm}.weight`, l.headDim, 1);
    }
    matrix(`${n.o}.weight`, [w, q], residualStd);
    vector(`${n.mlpNorm}.weight`, w, 1);
    matrix(`${n.gate}.weight`, [l.mlpWidth, w]);
    matrix(`${n.up}.weight`, [l.mlpWidth, w]);
    matrix(`${n.down}.weight`, [w, l.mlpWidth], residualStd);
  }
  vector(`${names.finalNorm}.weight`, w, 1);
  if (names.head) matrix(`${names.head}.weight`, [c.vocabSize, w]);
}

/**
 * A block's weights by role, as module paths (a weight is `${path}.weight`, a bias `${path}.bias`).
 * GPT-2 projects q, k and v in one layer (qkv) and its MLP is up → GELU → down; Llama projects
 * them apart (q, k, v) and its MLP is down(silu(gate) · up).
 */
export interface BlockNames {
  attentionNorm: string;
  qkv?: string;
  q?: string;
  k?: string;
  v?: string;
  /** Qwen3's RMSNorm on each head's q and k (present in every Llama-family table; used with qkNorm). */
  qNorm?: string;
  kNorm?: string;
  o: string;
  mlpNorm: string;
  gate?: string;
  up: string;
  down: string;
}

/** The family's weight-name table: the Hugging Face module paths of each role. */
export interface ModelNames {
  embedding: string;
  /** Learned positions (GPT-2); Llama's are rotary and have no weights. */
  positions?: string;
  finalNorm: string;
  /** An output head of its own; absent when it is tied to the embedding. */
  head?: string;
  block(i: number): BlockNames;
}

export function modelNames(c: ModelConfig): ModelNames {
  if (c.llama) {
    return {
      embedding: 'model.embed_tokens',
      finalNorm: 'model.norm',
      head: c.llama.tiedHead ? undefined : 'lm_head',
      block: (i) => {
        const p = `model.layers.${i}`;
        return {
          attentionNorm: `${p}.input_layernorm`,
          q: `${p}.self_attn.q_proj`,
          k: `${p}.self_attn.k_proj`,
          v: `${p}.self_attn.v_proj`,
          qNorm: `${p}.self_attn.q_norm`,
          kNorm: `${p}.self_attn.k_norm`,
          o: `${p}.self_attn.o_proj`,
          mlpNorm: `${p}.post_attention_layernorm`,
          gate: `${p}.mlp.gate_proj`,
          up: `${p}.mlp.up_proj`,
          down: `${p}.mlp.down_proj`,
        };
      },
    };
  }
  return {
    embedding: 'transformer.wte',
    positions: 'transformer.wpe',
    finalNorm: 'transformer.ln_f',
    block: (i) => {
      const p = `transformer.h.${i}`;
      return {
        attentionNorm: `${p}.ln_1`,
        qkv: `${p}.attn.c_attn`,
        o: `${p}.attn.c_proj`,
        mlpNorm: `${p}.ln_2`,
        up: `${p}.mlp.c_fc`,
        down: `${p}.mlp.c_proj`,
      };
    },
  };
}

/** The token embedding's weight, which a tied head shares. */
export const embeddingWeight = (c: ModelConfig): string => `${modelNames(c).embedding}.weight`;

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

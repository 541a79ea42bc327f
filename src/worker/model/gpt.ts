import { tf } from '../engine/backend';
import { freeingCustomGrad } from '../engine/freeing-custom-grad';
import { ModelConfig } from '../../core/model-config';
import { HostTensor, NamedTensors } from '../../core/tensor';
import { loraParamName } from '../../core/lora-adapter';
import { BlockNames, ModelNames, embeddingWeight, modelNames, weightTable } from '../../core/weight-table';
import { inverseFrequencies, rotaryTables } from '../../core/rope';
import { EMBED_SCALE } from '../../core/dyt';
import { mixSeed } from '../../core/rng';
import { chunkedHeadCrossEntropy, HeadMatrix, lossChunkRows } from './chunked-cross-entropy';
import { randomBf16Matrix } from './random-bf16';
import { crossEntropy, dynamicTanh, embed, gelu, layerNorm, matMul, rmsNorm, rotary, swapLastTwo, swiglu } from './ops';
import { fusedAttentionSupported, fusedCausalAttention } from '../engine/kernels/attention';
import { fusedGelu } from '../engine/kernels/gelu';
import { fusedLayerNorm } from '../engine/kernels/layer-norm';
import { kernelsAvailable, nativeKernels } from '../engine/kernels/kernel-module';
import { fusedDecode, gpt2DecodeWeights, kvCacheFloats, llamaDecodeWeights } from '../engine/kernels/decode';
import { nativeRmsNorm } from '../engine/kernels/rms-norm';
import { nativeRotary } from '../engine/kernels/rotary';
import { nativeSwiglu } from '../engine/kernels/swiglu';
import { nativeGroupedAttention } from '../engine/kernels/grouped-attention';
import { fusedLinear, matMulTransposedB } from '../engine/kernels/linear';
import { FrozenProduct, nativeLoraLinear } from '../engine/kernels/lora-linear';
import { nativeGpt2Block, Gpt2BlockWeights } from '../engine/kernels/gpt2-block';
import { nativeLlamaBlock, LlamaBlockLora, LlamaBlockWeights } from '../engine/kernels/llama-block';
import {
  bf16Embedding,
  bf16Matrix,
  bf16MatMul,
  bf16MatMulTransposedB,
  bf16Shape,
  heldAsBf16,
  isBf16Exact,
} from '../engine/kernels/bf16-matrix';

/**
 * The operations the model is written in: our fused kernels (wasm, native), or tfjs ops (the cpu
 * and tensorflow backends; also the reference the kernels are tested against).
 */
export interface OpSet {
  linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor;
  layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor;
  gelu(x: tf.Tensor): tf.Tensor;
  rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor;
  /** Rotary positions on x [.., time, headDim] (ops.ts rotary). */
  rotary(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor;
  swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor;
  /** x·Wᵀ: the output head (tied to the token embedding, or its own), and Llama's nn.Linear layers (W may be held as BF16 on native). */
  head(x: tf.Tensor, wte: tf.Tensor): tf.Tensor2D;
  /** Causal attention in one op from GPT-2's qkv [batch·time, 3·width], when it supports the shape. */
  fusedAttention?: (qkv: tf.Tensor2D, b: number, t: number, h: number) => tf.Tensor2D;
  /**
   * Grouped-query causal attention in one op: q [b·t, heads·headDim], k and v [b·t, kvHeads·headDim]
   * (rotated), scale 1/√headDim, query head j reading key/value head ⌊j / (heads / kvHeads)⌋.
   */
  groupedAttention?: (q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, b: number, t: number, heads: number, kvHeads: number) => tf.Tensor2D;
  /** A whole GPT-2 block (LayerNorm, no dropout, no cache) as one op, weights in nativeGpt2Block's order. */
  gpt2Block?: (x: tf.Tensor, weights: Gpt2BlockWeights, b: number, t: number, h: number) => tf.Tensor2D;
  /** A whole Llama-family block (no dropout, no cache; float32 weights, or LoRA on a float32 or BF16 base) as one op, weights in nativeLlamaBlock's order. */
  llamaBlock?: typeof nativeLlamaBlock;
  /** next() as one call with the KV cache in native memory, instead of the forward in ops. */
  decode?: typeof fusedDecode;
  /** A LoRA layer with its adapter added into the frozen base's output in place (kernels/lora-linear.ts). */
  loraLinear?: typeof nativeLoraLinear;
}

export const TFJS_OPS: OpSet = {
  linear: (x, w, b) => tf.add(matMul(x, w), b),
  layerNorm,
  gelu,
  rmsNorm,
  rotary,
  swiglu,
  head: (x, wte) => matMul(x, tf.transpose(wte)) as tf.Tensor2D,
};

export const KERNEL_OPS: OpSet = {
  linear: fusedLinear,
  layerNorm: fusedLayerNorm,
  gelu: fusedGelu,
  rmsNorm,
  rotary,
  swiglu,
  head: matMulTransposedB,
  fusedAttention: fusedCausalAttention,
};

/** The native engine's kernels, with those of Llama-family blocks that the wasm engine does without (it runs their tfjs ops). */
export const NATIVE_KERNEL_OPS: OpSet = {
  ...KERNEL_OPS,
  head: (x, w) => (heldAsBf16(w) ? bf16MatMulTransposedB(x, w) : matMulTransposedB(x, w)),
  rmsNorm: nativeRmsNorm,
  rotary: nativeRotary,
  swiglu: nativeSwiglu,
  groupedAttention: nativeGroupedAttention,
  loraLinear: nativeLoraLinear,
  gpt2Block: nativeGpt2Block,
  llamaBlock: nativeLlamaBlock,
};

/** The native engine's: the kernels, and generation steps fused into one call. */
export const NATIVE_OPS: OpSet = { ...NATIVE_KERNEL_OPS, decode: fusedDecode };

/**
 * The ops a model runs on with the engine running now. Adapters kept apart from their base (LoRA)
 * have no fused decode: their steps go through the ops one by one.
 */
function opsFor(lora: boolean): OpSet {
  if (nativeKernels()) return lora ? NATIVE_KERNEL_OPS : NATIVE_OPS;
  return kernelsAvailable() ? KERNEL_OPS : TFJS_OPS;
}

/** dy·W: the input's gradient of x·Wᵀ for a frozen W [out, in], float32 or held as BF16. */
function frozenInputGradient(dy: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return heldAsBf16(w) ? bf16MatMul(dy, w) : matMul(dy, w);
}

/**
 * The linear layers and head of a frozen base (LoRA): the same forward, but the backward pass
 * computes only the input's gradient. Our kernels' gradients compute every input's at once, and
 * the weight gradients (the head's alone is [vocab, width]) would be thrown away.
 */
function frozenBase(ops: OpSet): OpSet {
  const onlyInput = (forward: (x: tf.Tensor) => tf.Tensor, backward: (dy: tf.Tensor) => tf.Tensor) =>
    freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: forward(args[0] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => backward(dy),
    })) as (x: tf.Tensor) => tf.Tensor;
  return {
    ...ops,
    linear: (x, w, b) =>
      onlyInput(
        (v) => ops.linear(v, w, b),
        (dy) => ops.head(dy, w),
      )(x),
    head: (x, wte) =>
      onlyInput(
        (v) => ops.head(v, wte),
        (dy) => frozenInputGradient(dy, wte),
      )(x) as tf.Tensor2D,
  };
}

/**
 * Keys and values of the tokens seen so far (batch 1): per layer as tensors [heads, t, headDim],
 * or with the fused decode all in `native` (kernels/decode.ts).
 */
export interface KvCache {
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
  native?: Float32Array;
  length: number;
}

/** Where a forward pass is: batch, time, the first token's position, and its rotary tables (Llama). */
interface Positions {
  b: number;
  t: number;
  start: number;
  rotary?: { cos: tf.Tensor; sin: tf.Tensor };
  /** −1e9 where a query may not look (later keys), for more than one query (causalBias); made on first use (fused attention needs none). */
  causal: () => tf.Tensor2D | undefined;
}

/** The causal mask's bias [group·t, start + t]: the queries of a key/value group stacked (grouped-query attention). */
function causalBias(start: number, t: number, group: number): tf.Tensor2D {
  const allowed = tf.linalg.bandPart(tf.ones([t, start + t]), -1, start);
  const bias = tf.mul(tf.sub(1, allowed), -1e9);
  return (group === 1 ? bias : tf.tile(bias, [group, 1])) as tf.Tensor2D;
}

/**
 * What a forward pass (batch 1) hands back besides the logits, for looking inside: the arrays
 * given are filled per layer. Asking for attention takes the tfjs-ops attention path.
 */
export interface Inspection {
  /** Attention probabilities [heads, queries, keys] of each layer. */
  attention?: tf.Tensor3D[];
  /** The residual stream [time, width] after the embeddings and after each block (layers + 1). */
  hidden?: tf.Tensor2D[];
}

export const newCache = (): KvCache => ({ keys: [], values: [], native: undefined, length: 0 });

export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.keys, ...cache.values]);
  Object.assign(cache, newCache());
}

/**
 * Dropout at the next site of a forward pass (each site draws its own seed), at the model's rate
 * unless given; `active` only when training with the model's dropout.
 */
type Dropout = ((x: tf.Tensor, rate?: number) => tf.Tensor) & { active: boolean };

/**
 * LoRA (Hu et al. 2021) as PEFT applies it to GPT-2's Conv1D layers: the adapted layer computes
 * x·W + b + scale · drop(x)·Aᵀ·Bᵀ with A [r, in] and B [out, r]; W and b are frozen.
 */
export interface LoraOptions {
  /** Module paths to adapt (transformer.h.0.attn.c_attn …; core/lora-adapter.ts matchTargets). */
  modules: string[];
  r: number;
  /** alpha / r, or alpha / √r with rsLoRA (core/lora-adapter.ts loraScale). */
  scale: number;
  dropout: number;
  seed: number;
  /** A and B to start from (a resume) by module; otherwise PEFT's init: A kaiming-uniform (a = √5), B zero, so step 0 is the base. */
  from?: Map<string, { a: HostTensor; b: HostTensor }>;
}

/**
 * The weights' values as the model holds them: float32; or, when `frozen` on the native engine,
 * the matrices of a Llama-family model whose matrices are all BF16 values (a BF16 folder) as BF16
 * (kernels/bf16-matrix.ts): half the memory, and a generation step reads half the bytes.
 */
function heldWeights(
  config: ModelConfig,
  weights: NamedTensors,
  frozen: boolean,
  release = false,
): (name: string, shape: number[]) => tf.Tensor {
  const bf16 = frozen && frozenAsBf16(config, weights);
  return (name, shape) => {
    const w = weights.get(name);
    if (!w) throw new Error(`internal: weight ${name} missing after validation`);
    // Released, each host copy can be collected while the next weights load: the peak is not the weights twice.
    if (release) weights.delete(name);
    return bf16 && shape.length === 2 ? bf16Matrix(w) : tf.tensor(w.data, shape, 'float32');
  };
}

/** Whether these weights, frozen, are held as BF16 (heldWeights): a Llama-family model's, all matrices BF16 values, on the native engine. */
export function frozenAsBf16(config: ModelConfig, weights: NamedTensors): boolean {
  if (config.llama === undefined || nativeKernels() === undefined) return false;
  const matrices = [...weightTable(config)].filter(([, spec]) => spec.shape.length === 2).map(([name]) => weights.get(name));
  return matrices.every((w) => w !== undefined && isBf16Exact(w));
}

// tfjs variable names are global to the engine: give each model instance its own prefix.
let instances = 0;

/**
 * One decoder-only transformer for two kinds of blocks (docs/DESIGN.md §4), as LitGPT's model.py
 * covers families by configuration:
 * - GPT-2: token + learned position embeddings, pre-norm blocks of causal self-attention and a 4×
 *   GELU MLP with LayerNorm (or Dynamic Tanh), final norm, head tied to the token embedding.
 * - Llama, Mistral, Qwen2, Qwen3 (config.llama): token embeddings only, RMSNorm, rotary positions
 *   on q and k, grouped-query attention, a SwiGLU MLP, Qwen2's q/k/v biases, Qwen3's q/k norms,
 *   a head tied or its own.
 * Parameters carry the Hugging Face names of the family's weight table (core/weight-table.ts), so a
 * checkpoint is them written out; the model finds each weight by its role there.
 */
export class Gpt {
  /** The trainable parameters: every weight, or with LoRA only the adapters' A and B. */
  readonly params: Map<string, tf.Variable>;
  /** With LoRA (or a model only looked at: Gpt.frozen), the base weights: constants, so they get no gradients and no optimizer state. */
  readonly frozen = new Map<string, tf.Tensor>();
  readonly lora?: Omit<LoraOptions, 'from' | 'modules'> & { modules: ReadonlySet<string> };
  /** Names of the weights AdamW decays. */
  readonly decayed: ReadonlySet<string>;
  /** Chosen once (opsFor). Tests swap in TFJS_OPS. */
  ops: OpSet;
  /** The family's weight-name table (core/weight-table.ts): which weight plays which role. */
  readonly names: ModelNames;
  /** The token embedding's weight (a tied head's too). */
  readonly embeddingName: string;
  /** Rotary positions' inverse frequencies (core/rope.ts), for Llama-family blocks. */
  private readonly inverseFrequencies?: Float64Array;
  /** Zeros standing in for the biases of a model without them (no gradient: not variables). */
  private readonly zeros = new Map<number, tf.Tensor1D>();
  /** The weights in the fused decode's order (kernels/decode.ts), listed on first use. */
  private decodeWeights?: Array<tf.Tensor | undefined>;

  private constructor(
    readonly config: ModelConfig,
    values: (name: string, shape: number[], index: number) => tf.Tensor,
    lora?: LoraOptions,
    frozen = lora !== undefined,
  ) {
    const id = ++instances;
    this.ops = opsFor(lora !== undefined);
    this.names = modelNames(config);
    this.embeddingName = embeddingWeight(config);
    if (config.llama) this.inverseFrequencies = inverseFrequencies(config.llama);
    const table = weightTable(config);
    this.params = new Map();
    [...table].forEach(([name, spec], i) => {
      const value = values(name, spec.shape, i);
      if (frozen) this.frozen.set(name, tf.keep(value));
      else {
        this.params.set(name, tf.variable(value, true, `gpt${id}/${name}`));
        value.dispose();
      }
    });
    this.decayed = new Set([...table].filter(([, spec]) => spec.decay).map(([name]) => name));
    if (lora) {
      const { from, modules, ...rest } = lora;
      this.lora = { ...rest, modules: new Set(modules) };
      modules.forEach((m, i) => {
        const w = this.frozen.get(`${m}.weight`)!;
        const shape = heldAsBf16(w) ? bf16Shape(w) : w.shape;
        const [inputs, outputs] = (config.llama ? [shape[1], shape[0]] : shape) as [number, number];
        const bound = 1 / Math.sqrt(inputs); // kaiming_uniform_(a=√5): gain √(1/3) · √(3 / fan_in)
        const saved = from?.get(m);
        const a = saved
          ? tf.tensor(saved.a.data, [lora.r, inputs])
          : tf.randomUniform([lora.r, inputs], -bound, bound, 'float32', mixSeed(lora.seed, i));
        const b = saved ? tf.tensor(saved.b.data, [outputs, lora.r]) : tf.zeros([outputs, lora.r]);
        for (const [ab, value] of [
          ['A', a],
          ['B', b],
        ] as const) {
          this.params.set(loraParamName(m, ab), tf.variable(value, true, `gpt${id}/${loraParamName(m, ab)}`));
          value.dispose();
        }
      });
      this.decayed = new Set(this.params.keys());
    }
  }

  /**
   * Fresh weights, as the weight table says (with `lora`: a random frozen base, for timing; its
   * matrices held as BF16 with `bf16Base`, as a BF16 folder's are).
   */
  static initialise(config: ModelConfig, seed: number, lora?: LoraOptions, bf16Base = false): Gpt {
    const table = weightTable(config);
    return new Gpt(
      config,
      (name, shape, i) => {
        const { init } = table.get(name)!;
        if ('fill' in init) return tf.fill(shape, init.fill);
        if (lora && bf16Base && shape.length === 2) return randomBf16Matrix(shape[0], shape[1], init.normal, mixSeed(seed, i));
        return tf.randomNormal(shape, 0, init.normal, 'float32', mixSeed(seed, i));
      },
      lora,
    );
  }

  /**
   * A model from its weights; with `lora`, they are the frozen base under new adapters, held as
   * BF16 when they came in BF16 (heldWeights) unless `widen`.
   */
  static fromWeights(config: ModelConfig, weights: NamedTensors, lora?: LoraOptions, widen = false): Gpt {
    return new Gpt(config, heldWeights(config, weights, lora !== undefined && !widen), lora);
  }

  /**
   * A model to look at and complete with, not to train: every weight a constant, held as BF16 when
   * they came in BF16 (heldWeights). It takes the weights: each leaves `weights` once the engine
   * holds it; those read into the engine already (engine-destination.ts) are `held`.
   */
  static frozen(config: ModelConfig, weights: NamedTensors, held: ReadonlyMap<string, tf.Tensor> = new Map()): Gpt {
    const host = heldWeights(config, weights, true, true);
    return new Gpt(config, (name, shape) => held.get(name) ?? host(name, shape), undefined, true);
  }

  /** The trainable parameters' values (with LoRA: the adapters', under core/lora-adapter.ts loraParamName). */
  async weights(): Promise<NamedTensors> {
    const out: NamedTensors = new Map();
    for (const [name, v] of this.params) out.set(name, { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
    return out;
  }

  /**
   * Logits [batch·time, vocab] for ids [batch, time]. `dropoutSeed` turns dropout on (training).
   * With `cache` (batch 1), the ids continue the cached tokens and their keys and values join it.
   */
  forward(ids: tf.Tensor2D, opts: { dropoutSeed?: number; cache?: KvCache; inspect?: Inspection; tokens?: tf.Tensor2D } = {}): tf.Tensor2D {
    return this.readOut(this.residualStream(ids, opts));
  }

  /** The residual stream [batch·time, width] after the last block (forward before readOut). */
  private residualStream(
    ids: tf.Tensor2D,
    opts: { dropoutSeed?: number; cache?: KvCache; inspect?: Inspection; tokens?: tf.Tensor2D },
  ): tf.Tensor {
    const { width: c, layers, dropout } = this.config;
    const [b, t] = ids.shape;
    const start = opts.cache?.length ?? 0;
    const training = opts.dropoutSeed !== undefined;
    let site = 0;
    const drop: Dropout = Object.assign(
      (x: tf.Tensor, rate = dropout) => (training && rate > 0 ? tf.dropout(x, rate, undefined, mixSeed(opts.dropoutSeed!, site++)) : x),
      {
        active: training && dropout > 0,
      },
    );

    let x: tf.Tensor = opts.tokens ?? this.tokenEmbeddings(ids);
    if (this.names.positions) {
      const pos = tf.slice(this.p(`${this.names.positions}.weight`), [start, 0], [t, c]);
      x = this.scaleEmbeddings(tf.reshape(tf.add(tf.reshape(x, [b, t, c]), pos), [b * t, c]));
    }
    x = drop(x);
    const group = this.attentionShape.heads / this.attentionShape.kvHeads;
    let causal: tf.Tensor2D | undefined;
    const at: Positions = {
      b,
      t,
      start,
      rotary: this.rotaryTables(start, t),
      causal: () => (t > 1 ? (causal ??= causalBias(start, t, group)) : undefined),
    };
    opts.inspect?.hidden?.push(x as tf.Tensor2D);
    for (let i = 0; i < layers; i++) {
      x = this.block(x, i, at, drop, opts.cache, opts.inspect);
      opts.inspect?.hidden?.push(x as tf.Tensor2D);
    }
    if (opts.cache) opts.cache.length += t;
    return x;
  }

  /** Dynamic Tanh's learnable scalar after the embeddings (core/dyt.ts); LayerNorm has none. */
  private scaleEmbeddings(x: tf.Tensor): tf.Tensor {
    return this.config.norm === 'dyt' ? tf.mul(x, this.p(EMBED_SCALE)) : x;
  }

  /** cos and sin [t, 1, headDim/2] of positions start … start + t − 1 (one per head, broadcast). */
  private rotaryTables(start: number, t: number): { cos: tf.Tensor; sin: tf.Tensor } | undefined {
    if (!this.inverseFrequencies) return undefined;
    const { cos, sin } = rotaryTables(this.inverseFrequencies, start, t);
    const shape = [t, 1, this.inverseFrequencies.length];
    return { cos: tf.tensor(cos, shape), sin: tf.tensor(sin, shape) };
  }

  /** The token embeddings [batch·time, width] of ids [batch, time]. */
  tokenEmbeddings(ids: tf.Tensor2D): tf.Tensor2D {
    const table = this.p(this.embeddingName) as tf.Tensor2D;
    const flat = tf.reshape(ids, [ids.size]) as tf.Tensor1D;
    return heldAsBf16(table) ? bf16Embedding(table, flat) : embed(table, flat);
  }

  /** Logits from a residual stream [n, width]: the final norm (its statistics from `x` itself), then the head. */
  readOut(x: tf.Tensor): tf.Tensor2D {
    return this.baseOps.head(this.norm(x, this.names.finalNorm), this.p(this.headName));
  }

  /** The output head's weight: its own, or the token embedding's (tied). */
  private get headName(): string {
    return this.names.head ? `${this.names.head}.weight` : this.embeddingName;
  }

  /** The head as the chunked loss reads it (frozen with LoRA: no [vocab, width] gradient). */
  private headMatrix(): HeadMatrix {
    const weight = this.p(this.headName);
    return {
      weight,
      vocab: (heldAsBf16(weight) ? bf16Shape(weight) : weight.shape)[0],
      trainable: this.params.has(this.headName),
      logits: (x, w) => this.ops.head(x, w),
      inputGradient: (dy, w) => frozenInputGradient(dy, w) as tf.Tensor2D,
    };
  }

  /** A pre-norm block: x + attention(norm(x)), then + MLP(norm(x)). */
  private block(x: tf.Tensor, i: number, at: Positions, drop: Dropout, cache?: KvCache, inspect?: Inspection): tf.Tensor {
    const n = this.names.block(i);
    const whole = !this.config.llama && this.config.norm === 'layernorm' && !this.lora && !cache && !drop.active && !inspect?.attention;
    if (this.ops.gpt2Block && whole) {
      const weights = [n.attentionNorm, n.qkv!, n.o, n.mlpNorm, n.up, n.down].flatMap((prefix) => {
        const w = this.p(`${prefix}.weight`);
        return [w, this.bias(prefix, w.shape[w.shape.length - 1])];
      });
      return this.ops.gpt2Block(x, weights, at.b, at.t, this.config.heads);
    }
    const llama = this.config.llama;
    const plain = !cache && !drop.active && !inspect?.attention && (this.lora?.dropout ?? 0) === 0;
    if (this.ops.llamaBlock && llama && at.rotary && plain) {
      const weights = this.llamaBlockWeights(n);
      // BF16 matrices only as a frozen base, all of them or none.
      const bf16 = [n.q, n.k, n.v, n.o, n.gate, n.up, n.down].map((prefix) => heldAsBf16(this.p(`${prefix}.weight`)));
      if (this.lora ? bf16.every((held) => held === bf16[0]) : !bf16.includes(true)) {
        const { b, t } = at;
        const shape = { b, t, heads: this.config.heads, kvHeads: llama.kvHeads, eps: llama.normEps };
        return this.ops.llamaBlock(x, weights, at.rotary.cos, at.rotary.sin, shape, this.llamaBlockLora(n));
      }
    }
    const attended = this.attention(this.norm(x, n.attentionNorm), i, n, at, drop, cache, inspect);
    x = tf.add(x, drop(this.linear(attended, n.o, drop)));
    return tf.add(x, drop(this.linear(this.mlp(this.norm(x, n.mlpNorm), n, drop), n.down, drop)));
  }

  /** A Llama-family block's weights in nativeLlamaBlock's order (undefined: a bias or q/k norm the family has not). */
  private llamaBlockWeights(n: BlockNames): LlamaBlockWeights {
    const qkNorm = this.config.llama?.qkNorm;
    const weight = (prefix: string | undefined, present = true) => (present ? this.p(`${prefix}.weight`) : undefined);
    const bias = (prefix: string) => (this.has(`${prefix}.bias`) ? this.p(`${prefix}.bias`) : undefined);
    return [
      weight(n.attentionNorm),
      weight(n.q),
      bias(n.q!),
      weight(n.k),
      bias(n.k!),
      weight(n.v),
      bias(n.v!),
      weight(n.qNorm, qkNorm),
      weight(n.kNorm, qkNorm),
      weight(n.o),
      weight(n.mlpNorm),
      weight(n.gate),
      weight(n.up),
      weight(n.down),
    ];
  }

  /** With LoRA, the block's adapters in nativeLlamaBlock's order. */
  private llamaBlockLora(n: BlockNames): LlamaBlockLora | undefined {
    if (!this.lora) return undefined;
    const { modules, r, scale } = this.lora;
    const adapters = [n.q!, n.k!, n.v!, n.o, n.gate!, n.up, n.down].flatMap((prefix) =>
      modules.has(prefix) ? [this.p(loraParamName(prefix, 'A')), this.p(loraParamName(prefix, 'B'))] : [undefined, undefined],
    );
    return { adapters, rank: r, scale };
  }

  /** GPT-2's GELU(up(x)), or Llama's silu(gate(x)) · up(x) (SwiGLU); `down` follows in block(). */
  private mlp(normed: tf.Tensor, n: BlockNames, drop: Dropout): tf.Tensor {
    const up = this.linear(normed, n.up, drop);
    return n.gate ? this.ops.swiglu(this.linear(normed, n.gate, drop), up) : this.ops.gelu(up);
  }

  /**
   * Causal self-attention of normed [batch·time, width] → [batch·time, heads·headDim]. Query head j
   * reads key/value head ⌊j / group⌋ (grouped-query attention; GPT-2's group is 1).
   */
  private attention(
    normed: tf.Tensor,
    i: number,
    n: BlockNames,
    at: Positions,
    drop: Dropout,
    cache?: KvCache,
    inspect?: Inspection,
  ): tf.Tensor {
    const { b, t, start } = at;
    const { heads: h, kvHeads: kvh, headDim: hd } = this.attentionShape;
    const plain = !cache && !drop.active && !inspect?.attention;
    if (n.qkv && this.ops.fusedAttention && plain && fusedAttentionSupported(t, hd)) {
      return this.ops.fusedAttention(this.linear(normed, n.qkv, drop) as tf.Tensor2D, b, t, h);
    }
    const { q, k: kNew, v: vNew } = this.projections(normed, n, at, drop);
    if (this.ops.groupedAttention && plain && !n.qkv) {
      const flat = (z: tf.Tensor, heads: number) => tf.reshape(z, [b * t, heads * hd]) as tf.Tensor2D;
      return this.ops.groupedAttention(flat(q, h), flat(kNew, kvh), flat(vNew, kvh), b, t, h, kvh);
    }
    // [b, t, n, hd] → [b·kvh, group·t, hd]: the queries of a group stacked, so they share one k and v.
    const byHead = (z: tf.Tensor, heads: number) =>
      tf.reshape(tf.transpose(z, [0, 2, 1, 3]), [b * kvh, (heads / kvh) * t, hd]) as tf.Tensor3D;
    const query = byHead(q, h);
    let [k, v] = [byHead(kNew, kvh), byHead(vNew, kvh)];
    if (cache) {
      if (start + t > this.config.context) throw new Error('internal: KV cache is full');
      if (start > 0) [k, v] = [tf.concat([cache.keys[i], k], 1) as tf.Tensor3D, tf.concat([cache.values[i], v], 1) as tf.Tensor3D];
      tf.dispose([cache.keys[i], cache.values[i]]);
      cache.keys[i] = tf.keep(k);
      cache.values[i] = tf.keep(v);
    }
    let scores = tf.mul(matMul(query, swapLastTwo(k)), 1 / Math.sqrt(hd));
    const causal = at.causal();
    if (causal) scores = tf.add(scores, causal);
    const probs = tf.softmax(scores) as tf.Tensor3D;
    if (inspect?.attention) inspect.attention.push(tf.reshape(probs, [b * h, t, start + t]) as tf.Tensor3D);
    const attended = matMul(drop(probs), v);
    return tf.reshape(tf.transpose(tf.reshape(attended, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, h * hd]);
  }

  /** Heads, key/value heads and head size: GPT-2's heads each have width / heads and their own k and v. */
  private get attentionShape(): { heads: number; kvHeads: number; headDim: number } {
    const { heads, width, llama } = this.config;
    return { heads, kvHeads: llama?.kvHeads ?? heads, headDim: llama?.headDim ?? width / heads };
  }

  /** q [b, t, heads, hd] and k, v [b, t, kvHeads, hd]: projected, q and k normed (Qwen3) and rotated (Llama). */
  private projections(normed: tf.Tensor, n: BlockNames, at: Positions, drop: Dropout): { q: tf.Tensor; k: tf.Tensor; v: tf.Tensor } {
    const { b, t } = at;
    const { heads: h, kvHeads: kvh, headDim: hd } = this.attentionShape;
    const split = (z: tf.Tensor, heads: number) => tf.reshape(z, [b, t, heads, hd]);
    if (n.qkv) {
      const c = this.config.width;
      // Three projections from column blocks of c_attn: slicing the small weight is far cheaper
      // on wasm than splitting the large [batch·time, 3·width] product (an adapted c_attn is split).
      const adapted = this.lora?.modules.has(n.qkv) ? tf.split(this.linear(normed, n.qkv, drop), 3, 1) : undefined;
      const [q, k, v] = [0, 1, 2].map((j) =>
        split(
          adapted?.[j] ??
            this.ops.linear(
              normed,
              tf.slice(this.p(`${n.qkv}.weight`), [0, j * c], [c, c]),
              tf.slice(this.bias(n.qkv!, 3 * c), [j * c], [c]),
            ),
          h,
        ),
      );
      return { q, k, v };
    }
    const positioned = (z: tf.Tensor, normName: string | undefined) => {
      const normedHeads = this.config.llama?.qkNorm ? this.ops.rmsNorm(z, this.p(`${normName}.weight`), this.config.llama.normEps) : z;
      return this.ops.rotary(normedHeads, at.rotary!.cos as tf.Tensor2D, at.rotary!.sin as tf.Tensor2D);
    };
    return {
      q: positioned(split(this.linear(normed, n.q!, drop), h), n.qNorm),
      k: positioned(split(this.linear(normed, n.k!, drop), kvh), n.kNorm),
      v: split(this.linear(normed, n.v!, drop), kvh),
    };
  }

  /** x·W + b (GPT-2's Conv1D layout) or x·Wᵀ + b (Llama's nn.Linear), plus a LoRA adapter's part. */
  private linear(x: tf.Tensor, prefix: string, drop: Dropout): tf.Tensor {
    const w = this.p(`${prefix}.weight`);
    if (this.lora?.modules.has(prefix) && this.lora.dropout === 0 && this.ops.loraLinear)
      return this.fusedLoraLinear(x, prefix, w, this.ops.loraLinear);
    let y: tf.Tensor;
    if (this.config.llama) {
      y = this.baseOps.head(x, w);
      if (this.has(`${prefix}.bias`)) y = tf.add(y, this.p(`${prefix}.bias`));
    } else y = this.baseOps.linear(x, w, this.bias(prefix, w.shape[1] as number));
    if (!this.lora?.modules.has(prefix)) return y;
    const { scale, dropout } = this.lora;
    const down = this.ops.head(drop(x, dropout), this.p(loraParamName(prefix, 'A')));
    return tf.add(y, this.ops.head(tf.mul(down, scale), this.p(loraParamName(prefix, 'B'))));
  }

  /** linear() of an adapted layer without adapter dropout, in one op (the native engine's: kernels/lora-linear.ts). */
  private fusedLoraLinear(x: tf.Tensor, prefix: string, w: tf.Tensor, loraLinear: typeof nativeLoraLinear): tf.Tensor {
    const { scale } = this.lora!;
    const base: FrozenProduct = this.config.llama
      ? { forward: (v) => this.ops.head(v, w), inputGradient: (dy) => frozenInputGradient(dy, w) }
      : { forward: (v) => this.ops.linear(v, w, this.bias(prefix, w.shape[1] as number)), inputGradient: (dy) => this.ops.head(dy, w) };
    const flat = tf.reshape(x, [-1, x.shape[x.rank - 1]]) as tf.Tensor2D;
    const y = loraLinear(flat, base, this.p(loraParamName(prefix, 'A')), this.p(loraParamName(prefix, 'B')), scale);
    return this.config.llama && this.has(`${prefix}.bias`) ? tf.add(y, this.p(`${prefix}.bias`)) : y;
  }

  /** The ops for the base's weights: with LoRA they are frozen. */
  private get baseOps(): OpSet {
    return this.lora ? frozenBase(this.ops) : this.ops;
  }

  private norm(x: tf.Tensor, prefix: string): tf.Tensor {
    const w = this.p(`${prefix}.weight`);
    if (this.config.llama) return this.ops.rmsNorm(x, w, this.config.llama.normEps);
    const b = this.bias(prefix, w.shape[0]);
    return this.config.norm === 'dyt' ? dynamicTanh(x, this.p(`${prefix}.alpha`), w, b) : this.ops.layerNorm(x, w, b);
  }

  private bias(prefix: string, size: number): tf.Tensor {
    if (this.config.bias) return this.p(`${prefix}.bias`);
    if (!this.zeros.has(size)) this.zeros.set(size, tf.keep(tf.zeros([size])));
    return this.zeros.get(size)!;
  }

  private has(name: string): boolean {
    return this.params.has(name) || this.frozen.has(name);
  }

  private p(name: string): tf.Tensor {
    const v = this.params.get(name) ?? this.frozen.get(name);
    if (!v) throw new Error(`internal: no parameter ${name}`);
    return v;
  }

  /** Mean cross-entropy; `tokens` stands in for the token embeddings of `ids` (see tokenEmbeddings). */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, dropoutSeed?: number, tokens?: tf.Tensor2D): tf.Scalar {
    const [b, t] = targets.shape;
    const x = this.residualStream(ids, { dropoutSeed, tokens });
    const flat = tf.reshape(targets, [b * t]) as tf.Tensor1D;
    // Logits that fit in one chunk are computed once, as the forward pass does: chunks only pay
    // (a second head product in the backward pass) where the whole [tokens × vocab] would not fit.
    if (b * t <= lossChunkRows(this.config.vocabSize)) return crossEntropy(this.readOut(x), flat);
    return chunkedHeadCrossEntropy(this.norm(x, this.names.finalNorm) as tf.Tensor2D, flat, this.headMatrix());
  }

  /** Feeds `ids` after the cached tokens (all of a prompt, or one more token); returns the last logits. */
  next(ids: number[], cache: KvCache): tf.Tensor1D {
    if (this.ops.decode) {
      if (cache.keys.length > 0) throw new Error('internal: a KV cache of tensors given to the fused decode');
      if (cache.length + ids.length > this.config.context) throw new Error('internal: KV cache is full');
      cache.native ??= new Float32Array(kvCacheFloats(this.config));
      const logits = this.ops.decode(this.config, (this.decodeWeights ??= this.weightsInDecodeOrder()), ids, cache.length, cache.native);
      cache.length += ids.length;
      return logits;
    }
    if (cache.native) throw new Error('internal: a native KV cache given to the tfjs decode');
    return tf.tidy(() => {
      const logits = this.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { cache });
      return tf.reshape(tf.slice(logits, [ids.length - 1, 0], [1, -1]), [-1]) as tf.Tensor1D;
    });
  }

  private weightsInDecodeOrder(): Array<tf.Tensor | undefined> {
    const weight = (name: string) => (this.has(name) ? this.p(name) : undefined);
    if (this.config.llama) return llamaDecodeWeights({ ...this.config, llama: this.config.llama }, this.names, weight);
    return gpt2DecodeWeights(this.config, this.names, weight, (prefix, size) => this.bias(prefix, size));
  }

  dispose(): void {
    tf.dispose([...this.params.values(), ...this.frozen.values(), ...this.zeros.values()]);
  }
}

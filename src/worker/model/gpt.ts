import { tf } from '../engine/backend';
import { freeingCustomGrad } from '../engine/freeing-custom-grad';
import { ModelConfig } from '../../core/model-config';
import { HostTensor, NamedTensors } from '../../core/tensor';
import { loraParamName } from '../../core/lora-adapter';
import { weightTable } from '../../core/weight-table';
import { EMBED_SCALE } from '../../core/dyt';
import { mixSeed } from '../../core/rng';
import { crossEntropy, dynamicTanh, embed, gelu, layerNorm, matMul, rmsNorm, rotary, swapLastTwo, swiglu } from './ops';
import { fusedAttentionSupported, fusedCausalAttention } from '../engine/kernels/attention';
import { fusedGelu } from '../engine/kernels/gelu';
import { fusedLayerNorm } from '../engine/kernels/layer-norm';
import { kernelsAvailable, nativeKernels } from '../engine/kernels/kernel-module';
import { fusedDecode, kvCacheFloats } from '../engine/kernels/decode';
import { fusedLinear, matMulTransposedB } from '../engine/kernels/linear';

/**
 * The operations the model is written in: our fused kernels (wasm), or tfjs ops (the cpu and
 * tensorflow backends; also the reference the kernels are tested against).
 */
export interface OpSet {
  linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor;
  layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor;
  gelu(x: tf.Tensor): tf.Tensor;
  rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor;
  /** Rotary positions on x [.., time, headDim] (ops.ts rotary). */
  rotary(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor;
  swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor;
  /** x·Wᵀ: the output head, tied to the token embedding. */
  head(x: tf.Tensor, wte: tf.Tensor): tf.Tensor2D;
  /** Causal attention in one op from qkv [batch·time, 3·width], when it supports the shape. */
  fusedAttention?: (qkv: tf.Tensor2D, b: number, t: number, h: number) => tf.Tensor2D;
  /** next() as one call with the KV cache in native memory, instead of the forward in ops. */
  decode?: typeof fusedDecode;
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

/** The native engine's: the kernels, and generation steps fused into one call. */
export const NATIVE_OPS: OpSet = { ...KERNEL_OPS, decode: fusedDecode };

/**
 * The ops a model runs on with the engine running now. Adapters kept apart from their base (LoRA)
 * have no fused decode: their steps go through the ops one by one.
 */
function opsFor(lora: boolean): OpSet {
  if (nativeKernels()) return lora ? KERNEL_OPS : NATIVE_OPS;
  return kernelsAvailable() ? KERNEL_OPS : TFJS_OPS;
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
        (dy) => matMul(dy, wte),
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

/** The token embedding, tied to the output head. */
export const TOKEN_EMBEDDING = 'transformer.wte.weight';

// tfjs variable names are global to the engine: give each model instance its own prefix.
let instances = 0;

/**
 * GPT-2 (docs/DESIGN.md §4): token + position embeddings, pre-norm blocks of causal self-attention and a
 * 4× GELU MLP, final norm, head tied to the token embedding. Parameters carry the Hugging Face
 * GPT-2 names of the weight table (core/weight-table.ts), so a checkpoint is them written out.
 */
export class Gpt {
  /** The trainable parameters: every weight, or with LoRA only the adapters' A and B. */
  readonly params: Map<string, tf.Variable>;
  /** With LoRA, the base weights: constants, so they get no gradients and no optimizer state. */
  readonly frozen = new Map<string, tf.Tensor>();
  readonly lora?: Omit<LoraOptions, 'from' | 'modules'> & { modules: ReadonlySet<string> };
  /** Names of the weights AdamW decays. */
  readonly decayed: ReadonlySet<string>;
  /** Chosen once (opsFor). Tests swap in TFJS_OPS. */
  ops: OpSet;
  private readonly causalBias: tf.Tensor2D;
  /** Zeros standing in for the biases of a model without them (no gradient: not variables). */
  private readonly zeros = new Map<number, tf.Tensor1D>();
  /** The weights in the fused decode's order (kernels/decode.ts), listed on first use. */
  private decodeWeights?: Array<tf.Tensor | undefined>;

  private constructor(
    readonly config: ModelConfig,
    values: (name: string, shape: number[], index: number) => tf.Tensor,
    lora?: LoraOptions,
  ) {
    const id = ++instances;
    this.ops = opsFor(lora !== undefined);
    const table = weightTable(config);
    this.params = new Map();
    [...table].forEach(([name, spec], i) => {
      const value = values(name, spec.shape, i);
      if (lora) this.frozen.set(name, tf.keep(value));
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
        const [inputs, outputs] = this.frozen.get(`${m}.weight`)!.shape;
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
    const t = config.context;
    this.causalBias = tf.keep(tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([t, t]), -1, 0)), -1e9) as tf.Tensor2D));
  }

  /** Fresh weights, as the weight table says (with `lora`: a random frozen base, for timing). */
  static initialise(config: ModelConfig, seed: number, lora?: LoraOptions): Gpt {
    const table = weightTable(config);
    return new Gpt(
      config,
      (name, shape, i) => {
        const { init } = table.get(name)!;
        return 'fill' in init ? tf.fill(shape, init.fill) : tf.randomNormal(shape, 0, init.normal, 'float32', mixSeed(seed, i));
      },
      lora,
    );
  }

  /** A model from its weights; with `lora`, they are the frozen base under new adapters. */
  static fromWeights(config: ModelConfig, weights: NamedTensors, lora?: LoraOptions): Gpt {
    return new Gpt(
      config,
      (name, shape) => {
        const w = weights.get(name);
        if (!w) throw new Error(`internal: weight ${name} missing after validation`);
        return tf.tensor(w.data, shape, 'float32');
      },
      lora,
    );
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

    const tok = tf.reshape(opts.tokens ?? this.tokenEmbeddings(ids), [b, t, c]);
    const pos = tf.slice(this.p('transformer.wpe.weight'), [start, 0], [t, c]);
    let x: tf.Tensor = drop(this.scaleEmbeddings(tf.reshape(tf.add(tok, pos), [b * t, c])));
    opts.inspect?.hidden?.push(x as tf.Tensor2D);
    for (let i = 0; i < layers; i++) {
      x = this.block(x, i, b, t, drop, opts.cache, opts.inspect);
      opts.inspect?.hidden?.push(x as tf.Tensor2D);
    }
    if (opts.cache) opts.cache.length += t;
    return this.readOut(x);
  }

  /** Dynamic Tanh's learnable scalar after the embeddings (core/dyt.ts); LayerNorm has none. */
  private scaleEmbeddings(x: tf.Tensor): tf.Tensor {
    return this.config.norm === 'dyt' ? tf.mul(x, this.p(EMBED_SCALE)) : x;
  }

  /** The token embeddings [batch·time, width] of ids [batch, time]. */
  tokenEmbeddings(ids: tf.Tensor2D): tf.Tensor2D {
    return embed(this.p(TOKEN_EMBEDDING) as tf.Tensor2D, tf.reshape(ids, [ids.size]) as tf.Tensor1D);
  }

  /** Logits from a residual stream [n, width]: the final norm (its statistics from `x` itself), then the tied head. */
  readOut(x: tf.Tensor): tf.Tensor2D {
    return this.baseOps.head(this.norm(x, 'transformer.ln_f'), this.p(TOKEN_EMBEDDING));
  }

  private block(x: tf.Tensor, i: number, b: number, t: number, drop: Dropout, cache?: KvCache, inspect?: Inspection): tf.Tensor {
    const pre = `transformer.h.${i}`;
    x = tf.add(
      x,
      drop(this.linear(this.attention(this.norm(x, `${pre}.ln_1`), i, b, t, drop, cache, inspect), `${pre}.attn.c_proj`, drop)),
    );
    return tf.add(
      x,
      drop(this.linear(this.ops.gelu(this.linear(this.norm(x, `${pre}.ln_2`), `${pre}.mlp.c_fc`, drop)), `${pre}.mlp.c_proj`, drop)),
    );
  }

  /** Causal self-attention of normed [batch·time, width]; heads merged out. */
  private attention(normed: tf.Tensor, i: number, b: number, t: number, drop: Dropout, cache?: KvCache, inspect?: Inspection): tf.Tensor {
    const { width: c, heads: h } = this.config;
    const hd = c / h;
    const pre = `transformer.h.${i}.attn.c_attn`;
    if (this.ops.fusedAttention && !cache && !drop.active && !inspect?.attention && fusedAttentionSupported(t, hd)) {
      return this.ops.fusedAttention(this.linear(normed, pre, drop) as tf.Tensor2D, b, t, h);
    }
    // Three projections from column blocks of c_attn: slicing the small weight is far cheaper
    // on wasm than splitting the large [batch·time, 3·width] product (an adapted c_attn is split).
    const adapted = this.lora?.modules.has(pre) ? tf.split(this.linear(normed, pre, drop), 3, 1) : undefined;
    const [q, kNew, vNew] = [0, 1, 2].map((j) => {
      const z =
        adapted?.[j] ??
        this.ops.linear(normed, tf.slice(this.p(`${pre}.weight`), [0, j * c], [c, c]), tf.slice(this.bias(pre, 3 * c), [j * c], [c]));
      return tf.reshape(tf.transpose(tf.reshape(z, [b, t, h, hd]), [0, 2, 1, 3]), [b * h, t, hd]) as tf.Tensor3D;
    });
    let [k, v] = [kNew, vNew];
    const start = cache?.length ?? 0;
    if (cache) {
      if (start + t > this.config.context) throw new Error('internal: KV cache is full');
      if (start > 0) [k, v] = [tf.concat([cache.keys[i], k], 1) as tf.Tensor3D, tf.concat([cache.values[i], v], 1) as tf.Tensor3D];
      tf.dispose([cache.keys[i], cache.values[i]]);
      cache.keys[i] = tf.keep(k);
      cache.values[i] = tf.keep(v);
    }
    let scores = tf.mul(matMul(q, swapLastTwo(k)), 1 / Math.sqrt(hd));
    if (t > 1) scores = tf.add(scores, tf.slice(this.causalBias, [start, 0], [t, start + t]));
    const probs = tf.softmax(scores) as tf.Tensor3D;
    inspect?.attention?.push(probs);
    const attended = matMul(drop(probs), v);
    return tf.reshape(tf.transpose(tf.reshape(attended, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, c]);
  }

  private linear(x: tf.Tensor, prefix: string, drop: Dropout): tf.Tensor {
    const w = this.p(`${prefix}.weight`);
    const y = this.baseOps.linear(x, w, this.bias(prefix, w.shape[1] as number));
    if (!this.lora?.modules.has(prefix)) return y;
    const { scale, dropout } = this.lora;
    const down = this.ops.head(drop(x, dropout), this.p(loraParamName(prefix, 'A')));
    return tf.add(y, this.ops.head(tf.mul(down, scale), this.p(loraParamName(prefix, 'B'))));
  }

  /** The ops for the base's weights: with LoRA they are frozen. */
  private get baseOps(): OpSet {
    return this.lora ? frozenBase(this.ops) : this.ops;
  }

  private norm(x: tf.Tensor, prefix: string): tf.Tensor {
    const w = this.p(`${prefix}.weight`);
    const b = this.bias(prefix, w.shape[0]);
    return this.config.norm === 'dyt' ? dynamicTanh(x, this.p(`${prefix}.alpha`), w, b) : this.ops.layerNorm(x, w, b);
  }

  private bias(prefix: string, size: number): tf.Tensor {
    if (this.config.bias) return this.p(`${prefix}.bias`);
    if (!this.zeros.has(size)) this.zeros.set(size, tf.keep(tf.zeros([size])));
    return this.zeros.get(size)!;
  }

  private p(name: string): tf.Tensor {
    const v = this.params.get(name) ?? this.frozen.get(name);
    if (!v) throw new Error(`internal: no parameter ${name}`);
    return v;
  }

  /** Mean cross-entropy; `tokens` stands in for the token embeddings of `ids` (see tokenEmbeddings). */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, dropoutSeed?: number, tokens?: tf.Tensor2D): tf.Scalar {
    const [b, t] = targets.shape;
    return crossEntropy(this.forward(ids, { dropoutSeed, tokens }), tf.reshape(targets, [b * t]) as tf.Tensor1D);
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
    const c = this.config.width;
    const norm = (prefix: string) => [
      this.p(`${prefix}.weight`),
      this.bias(prefix, c),
      this.config.norm === 'dyt' ? this.p(`${prefix}.alpha`) : undefined,
    ];
    const linear = (prefix: string) => {
      const w = this.p(`${prefix}.weight`);
      return [w, this.bias(prefix, w.shape[1] as number)];
    };
    const blocks = Array.from({ length: this.config.layers }, (_, i) => {
      const pre = `transformer.h.${i}`;
      return [
        ...norm(`${pre}.ln_1`),
        ...linear(`${pre}.attn.c_attn`),
        ...linear(`${pre}.attn.c_proj`),
        ...norm(`${pre}.ln_2`),
        ...linear(`${pre}.mlp.c_fc`),
        ...linear(`${pre}.mlp.c_proj`),
      ];
    });
    return [
      this.p('transformer.wte.weight'),
      this.p('transformer.wpe.weight'),
      ...blocks.flat(),
      ...norm('transformer.ln_f'),
      this.config.norm === 'dyt' ? this.p(EMBED_SCALE) : undefined,
    ];
  }

  dispose(): void {
    tf.dispose([...this.params.values(), ...this.frozen.values(), this.causalBias, ...this.zeros.values()]);
  }
}

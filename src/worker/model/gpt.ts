import { tf } from '../engine/backend';
import { ModelConfig } from '../../core/model-config';
import { NamedTensors } from '../../core/tensor';
import { expectedWeightShapes } from '../../core/checkpoint';
import { mixSeed } from '../../core/rng';
import { crossEntropy, dynamicTanh, embed, gelu, layerNorm, matMul, swapLastTwo } from './ops';
import { fusedAttentionSupported, fusedCausalAttention } from '../engine/kernels/attention';
import { fusedGelu } from '../engine/kernels/gelu';
import { fusedLayerNorm } from '../engine/kernels/layer-norm';
import { kernelsAvailable } from '../engine/kernels/kernel-module';
import { fusedLinear, matMulTransposedB } from '../engine/kernels/linear';

// tfjs variable names are global to the engine: give each model instance its own prefix.
let instances = 0;
const variableName = (id: number, name: string) => `gpt${id}/${name}`;

/** Per-layer attention keys and values of the tokens seen so far: [heads, t, headDim] each. */
export interface KvCache {
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
  length: number;
}

/**
 * GPT-2 layout (DESIGN §4): token + position embeddings, pre-norm blocks of causal self-attention
 * and a 4× GELU MLP, final norm, head tied to the token embedding. Variables carry the Hugging
 * Face GPT-2 tensor names, so a checkpoint is these variables written out as they are.
 */
export class Gpt {
  readonly params: Map<string, tf.Variable>;
  /** Forces tfjs ops where a fused kernel would run (tests compare the kernels against them). */
  compositeOps = false;
  private readonly causalBias: tf.Tensor2D;

  private constructor(readonly config: ModelConfig, params: Map<string, tf.Variable>) {
    this.params = params;
    const t = config.context;
    this.causalBias = tf.keep(
      tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([t, t]), -1, 0)), -1e9) as tf.Tensor2D),
    );
  }

  /** Fresh weights: N(0, 0.02), residual projections scaled by 1/√(2·layers) as in GPT-2. */
  static initialise(config: ModelConfig, seed: number): Gpt {
    const params = new Map<string, tf.Variable>();
    const id = ++instances;
    const residualStd = 0.02 / Math.sqrt(2 * config.layers);
    let i = 0;
    for (const [name, shape] of expectedWeightShapes(config)) {
      const s = mixSeed(seed, i++);
      const value = tf.tidy(() => {
        if (name.endsWith('.alpha')) return tf.fill(shape, 0.5);
        if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) return tf.ones(shape);
        if (name.endsWith('.bias')) return tf.zeros(shape);
        const std = /c_proj\.weight$/.test(name) ? residualStd : 0.02;
        return tf.randomNormal(shape, 0, std, 'float32', s);
      });
      params.set(name, tf.variable(value, true, variableName(id, name)));
      value.dispose();
    }
    return new Gpt(config, params);
  }

  static fromWeights(config: ModelConfig, weights: NamedTensors): Gpt {
    const params = new Map<string, tf.Variable>();
    const id = ++instances;
    for (const [name, shape] of expectedWeightShapes(config)) {
      const w = weights.get(name);
      if (!w) throw new Error(`internal: weight ${name} missing after validation`);
      const t = tf.tensor(w.data, shape, 'float32');
      params.set(name, tf.variable(t, true, variableName(id, name)));
      t.dispose();
    }
    return new Gpt(config, params);
  }

  async weights(): Promise<NamedTensors> {
    const out: NamedTensors = new Map();
    for (const [name, v] of this.params) out.set(name, { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
    return out;
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`internal: no parameter ${name}`);
    return v;
  }

  private norm(x: tf.Tensor, prefix: string): tf.Tensor {
    const w = this.p(`${prefix}.weight`);
    const b = this.p(`${prefix}.bias`);
    if (this.config.norm === 'dyt') return dynamicTanh(x, this.p(`${prefix}.alpha`), w, b);
    return this.useKernels ? fusedLayerNorm(x, w, b) : layerNorm(x, w, b);
  }

  private gelu(x: tf.Tensor): tf.Tensor {
    return this.useKernels ? fusedGelu(x) : gelu(x);
  }

  private get useKernels(): boolean {
    return !this.compositeOps && kernelsAvailable();
  }

  private linear(x: tf.Tensor, prefix: string): tf.Tensor {
    const w = this.p(`${prefix}.weight`);
    const b = this.p(`${prefix}.bias`);
    return this.useKernels ? fusedLinear(x, w, b) : tf.add(matMul(x, w), b);
  }

  /**
   * Logits [batch·time, vocab] for ids [batch, time]. `dropoutSeed` turns dropout on (training).
   * With `kv`, each layer's keys and values ([heads, time, headDim], batch 1) are pushed into it.
   */
  logits(ids: tf.Tensor2D, dropoutSeed?: number, kv?: { keys: tf.Tensor3D[]; values: tf.Tensor3D[] }): tf.Tensor2D {
    const { width: c, heads: h, layers, dropout } = this.config;
    const [b, t] = ids.shape;
    const hd = c / h;
    let site = 0;
    const drop = (x: tf.Tensor): tf.Tensor =>
      dropoutSeed !== undefined && dropout > 0 ? tf.dropout(x, dropout, undefined, mixSeed(dropoutSeed, site++)) : x;

    const tok = embed(this.p('transformer.wte.weight') as tf.Tensor2D, tf.reshape(ids, [b * t]) as tf.Tensor1D);
    const pos = tf.slice(this.p('transformer.wpe.weight'), [0, 0], [t, c]);
    let x: tf.Tensor = drop(tf.reshape(tf.add(tf.reshape(tok, [b, t, c]), pos), [b * t, c]));
    const mask = t === this.config.context ? this.causalBias : tf.slice(this.causalBias, [0, 0], [t, t]);
    // One kernel per layer when it applies; the composite ops remain for the KV cache, attention
    // dropout and the other backends (and are the reference the kernel is tested against).
    const fused = !kv && this.useKernels && (dropoutSeed === undefined || dropout === 0) && fusedAttentionSupported(t, hd);

    for (let i = 0; i < layers; i++) {
      const pre = `transformer.h.${i}`;
      const normed = this.norm(x, `${pre}.ln_1`);
      const merged = fused ? fusedCausalAttention(this.linear(normed, `${pre}.attn.c_attn`) as tf.Tensor2D, b, t, h) : this.attention(normed, pre, b, t, mask, drop, kv);
      x = tf.add(x, drop(this.linear(merged, `${pre}.attn.c_proj`)));
      const hidden = this.gelu(this.linear(this.norm(x, `${pre}.ln_2`), `${pre}.mlp.c_fc`));
      x = tf.add(x, drop(this.linear(hidden, `${pre}.mlp.c_proj`)));
    }
    const out = this.norm(x, 'transformer.ln_f');
    const wte = this.p('transformer.wte.weight');
    return this.useKernels ? matMulTransposedB(out, wte) : (matMul(out, tf.transpose(wte)) as tf.Tensor2D);
  }

  /** Causal self-attention from tfjs ops: [batch·time, width] in, heads merged out. */
  private attention(
    normed: tf.Tensor,
    pre: string,
    b: number,
    t: number,
    mask: tf.Tensor,
    drop: (x: tf.Tensor) => tf.Tensor,
    kv?: { keys: tf.Tensor3D[]; values: tf.Tensor3D[] },
  ): tf.Tensor {
    const { width: c, heads: h } = this.config;
    const hd = c / h;
    // Three projections from column blocks of c_attn: slicing the small weight is far cheaper
    // on wasm than splitting the large [batch·time, 3·width] product.
    const [q, k, v] = [0, 1, 2].map((j) => {
      const w = tf.slice(this.p(`${pre}.attn.c_attn.weight`), [0, j * c], [c, c]);
      const bias = tf.slice(this.p(`${pre}.attn.c_attn.bias`), [j * c], [c]);
      const z = tf.add(matMul(normed, w), bias);
      return tf.reshape(tf.transpose(tf.reshape(z, [b, t, h, hd]), [0, 2, 1, 3]), [b * h, t, hd]) as tf.Tensor3D;
    });
    if (kv) {
      kv.keys.push(k);
      kv.values.push(v);
    }
    const scores = tf.add(tf.mul(matMul(q, swapLastTwo(k)), 1 / Math.sqrt(hd)), mask);
    const attended = matMul(drop(tf.softmax(scores)), v);
    return tf.reshape(tf.transpose(tf.reshape(attended, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, c]);
  }

  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, dropoutSeed?: number): tf.Scalar {
    const [b, t] = targets.shape;
    return crossEntropy(this.logits(ids, dropoutSeed), tf.reshape(targets, [b * t]) as tf.Tensor1D);
  }

  /** Runs a prompt (batch 1) and returns a cache holding its keys and values, plus the last logits. */
  prefill(ids: number[]): { cache: KvCache; lastLogits: tf.Tensor1D } {
    const cache: KvCache = { keys: [], values: [], length: ids.length };
    const lastLogits = tf.tidy(() => {
      const kv = { keys: [] as tf.Tensor3D[], values: [] as tf.Tensor3D[] };
      const logits = this.logits(tf.tensor2d(ids, [1, ids.length], 'int32'), undefined, kv);
      cache.keys = kv.keys.map((k) => tf.keep(k));
      cache.values = kv.values.map((v) => tf.keep(v));
      return tf.reshape(tf.slice(logits, [ids.length - 1, 0], [1, -1]), [-1]) as tf.Tensor1D;
    });
    return { cache, lastLogits };
  }

  /** Feeds one more token at position cache.length; updates the cache and returns its logits. */
  decodeStep(token: number, cache: KvCache): tf.Tensor1D {
    const { width: c, heads: h, layers } = this.config;
    const hd = c / h;
    const position = cache.length;
    if (position >= this.config.context) throw new Error('internal: KV cache is full');
    const result = tf.tidy(() => {
      const tok = tf.gather(this.p('transformer.wte.weight'), tf.tensor1d([token], 'int32'));
      let x: tf.Tensor = tf.add(tok, tf.slice(this.p('transformer.wpe.weight'), [position, 0], [1, c]));
      for (let i = 0; i < layers; i++) {
        const pre = `transformer.h.${i}`;
        const qkv = tf.reshape(this.linear(this.norm(x, `${pre}.ln_1`), `${pre}.attn.c_attn`), [3, h, 1, hd]);
        const [q, k, v] = tf.unstack(qkv) as tf.Tensor3D[];
        const keys = tf.concat([cache.keys[i], k], 1) as tf.Tensor3D;
        const values = tf.concat([cache.values[i], v], 1) as tf.Tensor3D;
        tf.dispose([cache.keys[i], cache.values[i]]);
        cache.keys[i] = tf.keep(keys);
        cache.values[i] = tf.keep(values);
        const att = tf.softmax(tf.mul(tf.matMul(q, keys, false, true), 1 / Math.sqrt(hd)));
        const merged = tf.reshape(tf.matMul(att, values), [1, c]);
        x = tf.add(x, this.linear(merged, `${pre}.attn.c_proj`));
        x = tf.add(x, this.linear(this.gelu(this.linear(this.norm(x, `${pre}.ln_2`), `${pre}.mlp.c_fc`)), `${pre}.mlp.c_proj`));
      }
      const out = this.norm(x, 'transformer.ln_f');
      return tf.reshape(tf.matMul(out, this.p('transformer.wte.weight'), false, true), [-1]) as tf.Tensor1D;
    });
    cache.length++;
    return result;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.causalBias.dispose();
  }
}

export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.keys, ...cache.values]);
  cache.keys = [];
  cache.values = [];
  cache.length = 0;
}

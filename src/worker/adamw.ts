import { tf } from './engine';
import { NamedTensors } from '../core/tensor';

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  /** Defaults to 1e-8, PyTorch's. */
  eps?: number;
  weightDecay: number;
}

let instances = 0;

/** PyTorch's AdamW: decoupled weight decay, applied to matrices only (not biases, norms or α). */
export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(private readonly params: Map<string, tf.Variable>, private readonly s: AdamWSettings) {
    const id = ++instances;
    for (const [name, p] of params) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adamw${id}/m.${name}`)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adamw${id}/v.${name}`)));
    }
  }

  /** One update with already-clipped gradients; `step` counts from 1 (bias correction). */
  apply(grads: Record<string, tf.Tensor>, lr: number, step: number): void {
    const { beta1, beta2, weightDecay } = this.s;
    const eps = this.s.eps ?? 1e-8;
    const c1 = 1 - Math.pow(beta1, step);
    const c2 = 1 - Math.pow(beta2, step);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads[name];
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const decayed = p.rank >= 2 && weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
  }

  async moments(): Promise<NamedTensors> {
    const out: NamedTensors = new Map();
    for (const [key, vars] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of vars) out.set(`${key}.${name}`, { shape: t.shape.slice(), data: (await t.data()) as Float32Array });
    }
    return out;
  }

  restore(moments: NamedTensors): void {
    for (const [key, vars] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of vars) {
        const saved = moments.get(`${key}.${name}`);
        if (!saved) throw new Error(`optimizer state has no ${key}.${name}`);
        tf.tidy(() => t.assign(tf.tensor(saved.data, t.shape, 'float32')));
      }
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** Scales gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { clipped: Record<string, tf.Tensor>; norm: tf.Scalar } {
  const names = Object.keys(grads);
  const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar;
  const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
  const clipped: Record<string, tf.Tensor> = {};
  for (const n of names) clipped[n] = tf.mul(grads[n], scale);
  return { clipped, norm };
}

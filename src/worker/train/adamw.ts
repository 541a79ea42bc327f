import { tf } from '../engine/backend';
import { NamedTensors } from '../../core/tensor';
import { callKernel, heap, heapOffset, kernelsAvailable, nativeKernels } from '../engine/kernels/kernel-module';

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  /** Defaults to 1e-8, PyTorch's. */
  eps?: number;
  weightDecay: number;
}

let instances = 0;

/** PyTorch's AdamW: decoupled weight decay on the weights the model's table marks (matrices, not biases, norms or α). */
export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly s: AdamWSettings,
    private readonly decayed: ReadonlySet<string>,
  ) {
    const id = ++instances;
    for (const [name, p] of params) {
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adamw${id}/m.${name}`)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adamw${id}/v.${name}`)),
      );
    }
  }

  /** Forces the tfjs-op update where the fused kernel would run (tests compare the two). */
  compositeOps = false;

  /**
   * One update; each gradient is multiplied by `gradScale` first (the clipping factor).
   * `step` counts from 1 (bias correction).
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, step: number, gradScale: tf.Scalar): void {
    const { beta1, beta2, weightDecay } = this.s;
    const eps = this.s.eps ?? 1e-8;
    const c1 = 1 - Math.pow(beta1, step);
    const c2 = 1 - Math.pow(beta2, step);
    const decays = (name: string) => this.decayed.has(name) && weightDecay > 0;
    const native = nativeKernels();
    if (!this.compositeOps && native) {
      // In place, every parameter in one call: native matmuls keep no packed copy of the weights
      // (XNNPACK's cache is why the wasm kernel below writes new tensors), so no tensor is made.
      const names = [...this.params.keys()];
      const offsets = Float64Array.from(
        names.flatMap((name) => [this.params.get(name)!, grads[name], this.m.get(name)!, this.v.get(name)!].map(heapOffset)),
      );
      const sizes = Float64Array.from(names, (name) => this.params.get(name)!.size);
      const keep = Float64Array.from(names, (name) => (decays(name) ? 1 - lr * weightDecay : 1));
      const scale = gradScale.dataSync()[0];
      native.adamwAll(heap(), offsets, sizes, keep, lr, beta1, 1 - beta1, beta2, 1 - beta2, c1, c2, eps, scale);
      return;
    }
    if (!this.compositeOps && kernelsAvailable()) {
      const scale = gradScale.dataSync()[0];
      tf.tidy(() => {
        for (const [name, p] of this.params) {
          const m = this.m.get(name)!;
          const v = this.v.get(name)!;
          const keep = decays(name) ? 1 - lr * weightDecay : 1;
          const [np, nm, nv] = callKernel(
            [p, grads[name], m, v],
            [p.shape, p.shape, p.shape],
            0,
            (k, [pAt, gAt, mAt, vAt, npAt, nmAt, nvAt]) =>
              k.adamwUpdate(pAt, gAt, mAt, vAt, npAt, nmAt, nvAt, p.size, lr, beta1, 1 - beta1, beta2, 1 - beta2, c1, c2, eps, keep, scale),
          );
          p.assign(np);
          m.assign(nm);
          v.assign(nv);
        }
      });
      return;
    }
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = tf.mul(grads[name], gradScale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const decayed = decays(name) ? tf.mul(p, 1 - lr * weightDecay) : p;
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
  }

  async moments(): Promise<NamedTensors> {
    const out: NamedTensors = new Map();
    for (const [key, vars] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of vars) out.set(`${key}.${name}`, { shape: t.shape.slice(), data: (await t.data()) as Float32Array });
    }
    return out;
  }

  restore(moments: NamedTensors): void {
    for (const [key, vars] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
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

/** The global L2 norm of the gradients and the factor that scales it to at most maxNorm. */
export function clipScale(grads: Record<string, tf.Tensor>, maxNorm: number): { scale: tf.Scalar; norm: tf.Scalar } {
  const names = Object.keys(grads);
  const native = nativeKernels();
  if (native) {
    const squares = native.sumSquaresAll(
      heap(),
      Float64Array.from(names, (n) => heapOffset(grads[n])),
      Float64Array.from(names, (n) => grads[n].size),
    );
    const norm = Math.fround(Math.sqrt(squares));
    return { scale: tf.scalar(Math.min(1, maxNorm / (norm + 1e-6))), norm: tf.scalar(norm) };
  }
  const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar;
  const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))) as tf.Scalar;
  return { scale, norm };
}

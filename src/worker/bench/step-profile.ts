import { tf } from '../engine/backend';
import { timeKernels } from '../engine/kernels/kernel-module';
import { randomTokenTrainer } from './step-timer';
import { ModelConfig } from '../../core/model-config';

export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
}

export interface StepProfile {
  /** Wall time of the profiled step (profiling adds its own overhead). */
  wallMs: number;
  /** Sum of the tfjs kernels' own times. */
  kernelMs: number;
  kernelCalls: number;
  byKernel: KernelRow[];
  /** The slowest kernel/shape combinations. */
  byShape: (KernelRow & { shapes: string })[];
  /**
   * Our own kernels (the native addon's, or the AssemblyScript module's on wasm) called outside the
   * tfjs kernels, by function name; the BLAS products inside BatchMatMul are in kernelMs. The rest of
   * the wall time is JavaScript: op dispatch, autograd, memory.
   */
  ownKernelMs: number;
  ownKernelCalls: number;
  byOwnKernel: KernelRow[];
}

/**
 * Wraps kernel modules (the native addon, the AssemblyScript module) so that every call of one of
 * their functions adds its wall time to `rows` under the function's name.
 */
export function kernelTimer(rows: Map<string, KernelRow>): <Kernels extends object>(kernels: Kernels) => Kernels {
  const wrapped = new WeakMap<object, object>();
  const timed =
    (name: string, f: (...args: unknown[]) => unknown) =>
    (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return f(...args);
      } finally {
        const row = rows.get(name) ?? { kernel: name, calls: 0, ms: 0 };
        row.calls++;
        row.ms += performance.now() - t0;
        rows.set(name, row);
      }
    };
  return <Kernels extends object>(kernels: Kernels): Kernels => {
    let w = wrapped.get(kernels);
    if (!w) {
      // The addon's and a wasm instance's exports are frozen (a Proxy may not change what they return): copy them.
      const copy: Record<string, unknown> = {};
      for (const name of Object.getOwnPropertyNames(kernels)) {
        const f = (kernels as Record<string, unknown>)[name];
        copy[name] = typeof f === 'function' ? timed(name, f.bind(kernels) as (...args: unknown[]) => unknown) : f;
      }
      w = copy;
      wrapped.set(kernels, w);
    }
    return w as Kernels;
  };
}

const sum = (rows: KernelRow[], key: 'ms' | 'calls') => rows.reduce((n, r) => n + r[key], 0);
const slowestFirst = (a: KernelRow, b: KernelRow) => b.ms - a.ms;

/** One training step of `config` under tf.profile, after `warmup` plain steps; kernels summed by name and by shapes. */
export async function profileTrainingStep(
  config: ModelConfig,
  batch: number,
  warmup = 3,
  lora?: Parameters<typeof randomTokenTrainer>[3],
): Promise<StepProfile> {
  const trainer = await randomTokenTrainer(config, batch, 1, lora);
  try {
    for (let i = 1; i <= warmup; i++) await trainer.step(i);
    const own = new Map<string, KernelRow>();
    timeKernels(kernelTimer(own));
    const t0 = performance.now();
    let info: Awaited<ReturnType<typeof tf.profile>>;
    try {
      info = await tf.profile(async () => {
        await trainer.step(warmup + 1);
        return [];
      });
    } finally {
      timeKernels(undefined);
    }
    const wallMs = performance.now() - t0;
    const byKernel = new Map<string, KernelRow>();
    const byShape = new Map<string, KernelRow & { shapes: string }>();
    const backend = tf.getBackend();
    for (const k of info.kernels) {
      // tf.profile also lists composite scopes (customGrad's "forward", "…__op"): their kernels are listed too.
      if (!tf.getKernel(k.name, backend)) continue;
      const ms = Number(await k.kernelTimeMs);
      const row = byKernel.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
      row.calls++;
      row.ms += ms;
      byKernel.set(k.name, row);
      const shapes = `${k.inputShapes.map((s) => `[${s}]`).join('×')} → ${k.outputShapes.map((s) => `[${s}]`).join(',')}`;
      const key = `${k.name} ${shapes}`;
      const srow = byShape.get(key) ?? { kernel: k.name, shapes, calls: 0, ms: 0 };
      srow.calls++;
      srow.ms += ms;
      byShape.set(key, srow);
    }
    const kernels = [...byKernel.values()].sort(slowestFirst);
    const ownKernels = [...own.values()].sort(slowestFirst);
    return {
      wallMs,
      kernelMs: sum(kernels, 'ms'),
      kernelCalls: sum(kernels, 'calls'),
      byKernel: kernels,
      byShape: [...byShape.values()].sort(slowestFirst).slice(0, 15),
      ownKernelMs: sum(ownKernels, 'ms'),
      ownKernelCalls: sum(ownKernels, 'calls'),
      byOwnKernel: ownKernels,
    };
  } finally {
    await trainer.dispose();
  }
}

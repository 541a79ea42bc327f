import { tf } from '../engine/backend';
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
  /** Sum of the kernels' own times; the rest of the wall time is JavaScript: dispatch, autograd, memory. */
  kernelMs: number;
  kernelCalls: number;
  byKernel: KernelRow[];
  /** The slowest kernel/shape combinations. */
  byShape: (KernelRow & { shapes: string })[];
}

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
    const t0 = performance.now();
    const info = await tf.profile(async () => {
      await trainer.step(warmup + 1);
      return [];
    });
    const wallMs = performance.now() - t0;
    const byKernel = new Map<string, KernelRow>();
    const byShape = new Map<string, KernelRow & { shapes: string }>();
    let kernelMs = 0;
    const backend = tf.getBackend();
    for (const k of info.kernels) {
      // tf.profile also lists composite scopes (customGrad's "forward", "…__op"): their kernels are listed too.
      if (!tf.getKernel(k.name, backend)) continue;
      const ms = Number(await k.kernelTimeMs);
      kernelMs += ms;
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
    const desc = (a: KernelRow, b: KernelRow) => b.ms - a.ms;
    return {
      wallMs,
      kernelMs,
      kernelCalls: [...byKernel.values()].reduce((n, r) => n + r.calls, 0),
      byKernel: [...byKernel.values()].sort(desc),
      byShape: [...byShape.values()].sort(desc).slice(0, 15),
    };
  } finally {
    await trainer.dispose();
  }
}

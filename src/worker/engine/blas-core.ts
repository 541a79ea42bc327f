import { readFileSync } from 'node:fs';

/**
 * OpenBLAS (DYNAMIC_ARCH) picks its kernels by the CPU's family and model number. A CPU it does not
 * know — OpenBLAS 0.3.21 on a recent Xeon, or a VM that reports a generic model — gets Prescott's
 * SSE3 kernels: 4.3× slower on the standard config here (237 vs 55 ms per step). The CPU's own
 * feature flags say which kernels it can run; OPENBLAS_CORETYPE, read when the library loads, names
 * them. A value the user set is kept.
 */
export function openBlasCoreFor(flags: ReadonlySet<string>): string | undefined {
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return undefined;
}

/** Sets OPENBLAS_CORETYPE from /proc/cpuinfo (Linux x64) before the addon loads OpenBLAS. */
export function chooseOpenBlasCore(env: NodeJS.ProcessEnv = process.env): void {
  if (env.OPENBLAS_CORETYPE || process.platform !== 'linux' || process.arch !== 'x64') return;
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return;
  }
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1];
  const core = line ? openBlasCoreFor(new Set(line.trim().split(/\s+/))) : undefined;
  if (core) env.OPENBLAS_CORETYPE = core;
}

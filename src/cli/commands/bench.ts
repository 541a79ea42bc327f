import { parseCommand } from '../args';
import { printJson, info, printResult } from '../output';
import { BenchRequest, runBenchJob } from '../../worker/jobs/bench-job';
import type { KernelRow, StepProfile } from '../../worker/bench/step-profile';
import { UserError } from '../../core/errors';

export async function benchCommand(argv: string[]): Promise<number> {
  const { options } = parseCommand('bench', argv);
  const { json, ...request } = options as BenchRequest & { json?: boolean };
  const steps = request.steps ?? 30;
  if (steps < 1 || steps > 100_000) throw new UserError('--steps must be from 1 to 100000 (got {0})', steps);
  const r = await runBenchJob({ ...request, steps });
  if (json) printJson(r);
  else {
    printResult(
      `${r.standard ? 'standard config' : 'model'} (${r.config.layers} layers, ${r.config.heads} heads, width ${r.config.width}, context ${r.config.context}, batch ${r.config.batch}; ` +
        `${r.params.toLocaleString('en-US')} params) on ${r.backend}${r.blas ? ` (${r.blas})` : ''} with ${r.threads} thread(s): ` +
        `${r.ms_per_step} ms/step, ${r.tokens_per_s.toLocaleString('en-US')} tokens/s (median of ${r.steps} steps)`,
    );
    for (const why of r.skipped ?? []) info(`native engine not used: ${why.slice(8)}`);
    if (r.profile) printResult(formatProfile(r.profile));
  }
  return 0;
}

function formatProfile(p: StepProfile): string {
  const pct = (ms: number) => `${((100 * ms) / p.wallMs).toFixed(1)}%`.padStart(6);
  const row = (r: KernelRow, label: string) => `${r.ms.toFixed(1).padStart(8)} ms ${pct(r.ms)} ${String(r.calls).padStart(6)}  ${label}`;
  const rest = p.wallMs - p.kernelMs - p.ownKernelMs;
  return [
    `one profiled step: ${p.wallMs.toFixed(1)} ms wall: ${p.kernelMs.toFixed(1)} ms in ${p.kernelCalls} tfjs kernel calls, ` +
      `${p.ownKernelMs.toFixed(1)} ms in ${p.ownKernelCalls} calls of our own kernels, ${rest.toFixed(1)} ms (${pct(rest).trim()}) outside them (JavaScript: op dispatch, autograd, memory)`,
    '',
    '      time  share  calls  tfjs kernel',
    ...p.byKernel.map((r) => row(r, r.kernel)),
    '',
    '      time  share  calls  our kernel (outside the tfjs kernels)',
    ...p.byOwnKernel.map((r) => row(r, r.kernel)),
    '',
    'slowest tfjs kernel × shapes:',
    ...p.byShape.map((r) => row(r, `${r.kernel} ${r.shapes}`)),
  ].join('\n');
}

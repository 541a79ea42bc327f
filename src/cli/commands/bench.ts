import { parseCommandArgs, choiceFlag, numberFlag } from '../args';
import { printJson, info } from '../output';
import { runBenchJob } from '../../worker/jobs/bench-job';
import type { KernelRow, StepProfile } from '../../worker/bench/step-profile';
import { UserError } from '../../core/errors';

const OPTIONS = {
  steps: { type: 'string' }, threads: { type: 'string' }, backend: { type: 'string' }, profile: { type: 'boolean' }, json: { type: 'boolean' },
  // the shape to time instead of the standard config (random tokens)
  layers: { type: 'string' }, heads: { type: 'string' }, width: { type: 'string' }, context: { type: 'string' }, batch: { type: 'string' }, vocab: { type: 'string' },
} as const;

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench', argv, OPTIONS, { min: 0, max: 0, names: '' });
  const steps = numberFlag(values, 'steps') ?? 30;
  if (steps < 1 || steps > 100_000) throw new UserError(`--steps must be from 1 to 100000 (got ${steps})`);
  const shape = { layers: numberFlag(values, 'layers'), heads: numberFlag(values, 'heads'), width: numberFlag(values, 'width'), context: numberFlag(values, 'context'), batch: numberFlag(values, 'batch'), vocabSize: numberFlag(values, 'vocab') };
  const r = await runBenchJob(steps, choiceFlag(values, 'backend', ['auto', 'native', 'wasm', 'cpu', 'tensorflow'] as const), 3, values.profile === true, numberFlag(values, 'threads'), shape);
  if (values.json) printJson(r);
  else {
    info(
      `${r.standard ? 'standard config' : 'model'} (${r.config.layers} layers, ${r.config.heads} heads, width ${r.config.width}, context ${r.config.context}, batch ${r.config.batch}; ` +
        `${r.params.toLocaleString('en-US')} params) on ${r.backend}${r.blas ? ` (${r.blas})` : ''} with ${r.threads} thread(s): ` +
        `${r.ms_per_step} ms/step, ${r.tokens_per_s.toLocaleString('en-US')} tokens/s (median of ${r.steps} steps)`,
    );
    for (const why of r.skipped ?? []) info(`native engine not used: ${why.slice(8)}`);
    if (r.profile) info(formatProfile(r.profile));
  }
  return 0;
}

function formatProfile(p: StepProfile): string {
  const pct = (ms: number) => `${((100 * ms) / p.wallMs).toFixed(1)}%`.padStart(6);
  const row = (r: KernelRow, label: string) => `${r.ms.toFixed(1).padStart(8)} ms ${pct(r.ms)} ${String(r.calls).padStart(6)}  ${label}`;
  return [
    `one profiled step: ${p.wallMs.toFixed(1)} ms wall, ${p.kernelMs.toFixed(1)} ms in ${p.kernelCalls} kernel calls, ` +
      `${(p.wallMs - p.kernelMs).toFixed(1)} ms outside kernels (JavaScript: op dispatch, autograd, memory)`,
    '',
    '      time  share  calls  kernel',
    ...p.byKernel.map((r) => row(r, r.kernel)),
    '',
    'slowest kernel × shapes:',
    ...p.byShape.map((r) => row(r, `${r.kernel} ${r.shapes}`)),
  ].join('\n');
}

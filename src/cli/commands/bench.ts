import { parseCommandArgs, choiceFlag, numberFlag } from '../args';
import { printJson, info } from '../output';
import { runBenchJob } from '../../worker/jobs/bench-job';
import { UserError } from '../../core/errors';

const OPTIONS = { steps: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench', argv, OPTIONS, { min: 0, max: 0, names: '' });
  const steps = numberFlag(values, 'steps') ?? 30;
  if (steps < 1 || steps > 100_000) throw new UserError(`--steps must be from 1 to 100000 (got ${steps})`);
  const r = await runBenchJob(steps, choiceFlag(values, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const));
  if (values.json) printJson(r);
  else {
    info(
      `standard config (${r.config.layers} layers, ${r.config.heads} heads, width ${r.config.width}, context ${r.config.context}, batch ${r.config.batch}; ` +
        `${r.params.toLocaleString('en-US')} params) on ${r.backend} with ${r.threads} thread(s): ` +
        `${r.ms_per_step} ms/step, ${r.tokens_per_s.toLocaleString('en-US')} tokens/s (median of ${r.steps} steps)`,
    );
  }
  return 0;
}

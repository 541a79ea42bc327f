import { parseCommandArgs, choiceFlag } from '../args';
import { printJson, info } from '../output';
import { runEvalJob } from '../../worker/jobs/eval-job';

const OPTIONS = { backend: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('eval', argv, OPTIONS, { min: 2, max: 2, names: 'CHECKPOINT_OR_RUN and FILE' });
  const result = await runEvalJob(positionals[0], positionals[1], choiceFlag(values, 'backend', ['auto', 'native', 'wasm', 'cpu', 'tensorflow'] as const));
  if (values.json) printJson({ loss: result.loss, tokens: result.tokens });
  else info(`loss ${result.loss.toFixed(4)} (perplexity ${Math.exp(result.loss).toFixed(2)}) over ${result.tokens} tokens · ${result.checkpoint}`);
  return 0;
}

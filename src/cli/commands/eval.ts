import { parseCommand } from '../args';
import type { BackendChoice } from '../../worker/engine/backend';
import { printJson, info } from '../output';
import { runEvalJob } from '../../worker/jobs/eval-job';


export async function evalCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('eval', argv);
  const result = await runEvalJob(positionals[0], positionals[1], options.backend as BackendChoice | undefined);
  if (options.json) printJson({ loss: result.loss, tokens: result.tokens });
  else info(`loss ${result.loss.toFixed(4)} (perplexity ${Math.exp(result.loss).toFixed(2)}) over ${result.tokens} tokens · ${result.checkpoint}`);
  return 0;
}

import { parseCommand } from '../args';
import { printJson } from '../output';
import { TrainProgress } from '../progress';
import { FinetuneRequest, runFinetuneJob } from '../../worker/jobs/finetune-job';
import { TrainEvent } from '../../core/train-events';
import { whileHandlingSigint } from './train';

/** --targets NAMES: PEFT's module names, comma-separated. */
export function targetNames(text: string | undefined): string[] | undefined {
  return text
    ?.split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

export async function finetuneCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('finetune', argv);
  const { output, json, targets, ...rest } = options as Omit<FinetuneRequest, 'basePath' | 'corpusPath' | 'runDir' | 'targets'> & {
    output?: string;
    json?: boolean;
    targets?: string;
  };
  const req: FinetuneRequest = {
    ...rest,
    basePath: positionals[0],
    corpusPath: positionals[1],
    runDir: output,
    targets: targetNames(targets),
  };
  const progress = new TrainProgress();
  const emit = json ? printJson : (e: TrainEvent) => progress.onEvent(e);
  return whileHandlingSigint(async (shouldStop) => ((await runFinetuneJob(req, emit, shouldStop)).reason === 'cancelled' ? 130 : 0));
}

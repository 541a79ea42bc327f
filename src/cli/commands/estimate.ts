import { parseCommand } from '../args';
import { printJson, printResult } from '../output';
import { targetNames } from './finetune';
import { formatDuration } from '../../core/duration';
import { UserError } from '../../core/errors';
import { EstimateRequest, EstimateResult, runEstimateJob } from '../../worker/jobs/estimate-job';
import { FinetuneTargetRequest } from '../../core/finetune-target';
import { formatBytes } from '../../core/format-bytes';
import { cleaningOf } from '../options';

type FinetuneFlags = Omit<FinetuneTargetRequest, 'basePath' | 'targets'> & { targets?: string };

export async function estimateCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('estimate', argv);
  const { json, steps, finetune, lora, rank, alpha, rslora, loraDropout, targets, base, clean, rules, ...request } = options as Omit<
    EstimateRequest,
    'corpusPath' | 'finetune' | 'clean'
  > &
    FinetuneFlags & { json?: boolean; steps?: number; finetune?: string; clean?: boolean; rules?: string };
  const tuning = { base, lora, rank, alpha, rslora, loraDropout, targets: targetNames(targets) };
  if (finetune === undefined && Object.values(tuning).some((v) => v !== undefined))
    throw new UserError('--lora, --rank, --alpha, --rslora, --lora-dropout, --targets and --base set up a fine-tune: add --finetune BASE');
  const { preset, arch, tokenizer, vocabSize } = request;
  if (finetune !== undefined && [preset, arch, tokenizer, vocabSize].some((v) => v !== undefined))
    throw new UserError(
      '--preset, --arch, --tokenizer and --vocab-size describe a new model, and a fine-tune takes them from BASE: leave them out with --finetune',
    );
  const cleaning = cleaningOf(clean, rules);
  if (finetune !== undefined && cleaning.clean)
    throw new UserError(
      "--clean and --rules clean the text of a new run (train --clean), not a fine-tune's data: leave them out with --finetune",
    );
  const e = await runEstimateJob({
    ...request,
    ...cleaning,
    corpusPath: positionals[0],
    measureSteps: steps,
    finetune: finetune === undefined ? undefined : { basePath: finetune, ...tuning },
  });
  if (json) printJson(e);
  else {
    printResult(
      `${what(e)}: ${e.params.toLocaleString('en-US')} parameters${trainable(e)}, ${e.tokens.toLocaleString('en-US')} tokens, ` +
        `${e.stepsPerEpoch} steps per epoch` +
        (e.secondsPerEpoch !== undefined ? ` ≈ ${formatDuration(e.secondsPerEpoch)} per epoch on ${e.backend}` : '') +
        (e.measuredBytes !== undefined
          ? `, ${formatBytes(e.measuredBytes)} measured while training`
          : `, ${formatBytes(e.trainingBytes)} while training (estimated)`),
    );
  }
  return 0;
}

function what(e: EstimateResult): string {
  if (!e.lora) return e.preset;
  return e.lora.continued ? `lora (the adapter continued, r=${e.lora.r})` : `lora r=${e.lora.r}`;
}

function trainable(e: EstimateResult): string {
  return e.trainableParams < e.params ? ` (${e.trainableParams.toLocaleString('en-US')} trainable)` : '';
}

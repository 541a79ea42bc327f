import { parseCommandArgs, numberFlag, choiceFlag, stringFlag } from '../args';
import { printJson, info, formatDuration } from '../output';
import { runEstimateJob } from '../../worker/jobs/estimate-job';
import { formatBytes } from '../../core/format-bytes';

const OPTIONS = {
  preset: { type: 'string' },
  tokenizer: { type: 'string' },
  'vocab-size': { type: 'string' },
  context: { type: 'string' },
  batch: { type: 'string' },
  steps: { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function estimateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('estimate', argv, OPTIONS, { min: 1, max: 1, names: 'FILE' });
  const e = await runEstimateJob({
    corpusPath: positionals[0],
    preset: stringFlag(values, 'preset'),
    tokenizer: choiceFlag(values, 'tokenizer', ['char', 'bpe'] as const),
    vocabSize: numberFlag(values, 'vocab-size'),
    context: numberFlag(values, 'context'),
    batch: numberFlag(values, 'batch'),
    measureSteps: numberFlag(values, 'steps'),
    backend: choiceFlag(values, 'backend', ['auto', 'native', 'wasm', 'cpu', 'tensorflow'] as const),
  });
  if (values.json) printJson(e);
  else {
    info(
      `${e.preset}: ${e.params.toLocaleString('en-US')} parameters, ${e.tokens.toLocaleString('en-US')} tokens, ` +
        `${e.stepsPerEpoch} steps per epoch` +
        (e.secondsPerEpoch !== undefined ? ` ≈ ${formatDuration(e.secondsPerEpoch)} per epoch on ${e.backend}` : '') +
        `, ${formatBytes(e.trainingBytes)} while training`,
    );
  }
  return 0;
}

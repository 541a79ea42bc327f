import { parseCommand } from '../args';
import { printJson, printResult } from '../output';
import { formatDuration } from '../../core/duration';
import { EstimateRequest, runEstimateJob } from '../../worker/jobs/estimate-job';
import { formatBytes } from '../../core/format-bytes';

export async function estimateCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('estimate', argv);
  const { json, steps, ...request } = options as Omit<EstimateRequest, 'corpusPath'> & { json?: boolean; steps?: number };
  const e = await runEstimateJob({ ...request, corpusPath: positionals[0], measureSteps: steps });
  if (json) printJson(e);
  else {
    printResult(
      `${e.preset}: ${e.params.toLocaleString('en-US')} parameters, ${e.tokens.toLocaleString('en-US')} tokens, ` +
        `${e.stepsPerEpoch} steps per epoch` +
        (e.secondsPerEpoch !== undefined ? ` ≈ ${formatDuration(e.secondsPerEpoch)} per epoch on ${e.backend}` : '') +
        `, ${formatBytes(e.trainingBytes)} while training`,
    );
  }
  return 0;
}

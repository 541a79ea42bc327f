import { readCorpus } from '../../core/corpus';
import { UserError } from '../../core/errors';
import { evalWindowStarts } from '../../core/batches';
import { meanLoss } from '../model/evaluate';
import { loadModel } from './load-model';
import { BackendChoice } from '../engine/backend';

export interface EvalResult {
  loss: number;
  tokens: number;
  checkpoint: string;
}

/** Mean next-token cross-entropy of a checkpoint over a whole file, in context-long windows. */
export async function runEvalJob(checkpoint: string, file: string, backend: BackendChoice = 'auto'): Promise<EvalResult> {
  const corpus = readCorpus(file);
  const loaded = await loadModel(checkpoint, backend);
  try {
    const tokens = Int32Array.from(loaded.tokenizer.encode(corpus.text));
    if (tokens.length < 2) throw new UserError(`${file} has ${tokens.length} token: evaluation needs at least 2`);
    const window = Math.min(loaded.model.config.context, tokens.length - 1);
    const starts = evalWindowStarts(tokens.length, window, Number.MAX_SAFE_INTEGER);
    const loss = await meanLoss(loaded.model, tokens, starts, window, 16);
    return { loss, tokens: starts.length * window, checkpoint: loaded.checkpoint };
  } finally {
    loaded.model.dispose();
  }
}

import { readCorpus } from '../../core/corpus';
import { UserError } from '../../core/errors';
import { evalWindowStarts } from '../../core/batches';
import { meanLoss } from '../model/evaluate';
import { loadModel } from './load-model';
import { BackendChoice } from '../engine/backend';
import { Tokenizer } from '../../core/tokenizer';

export interface EvalResult {
  /** Nats per predicted token. */
  loss: number;
  tokens: number;
  /** The text of the predicted tokens: Unicode code points and UTF-8 bytes (a Hangul syllable is 1 and 3). */
  chars: number;
  bytes: number;
  bitsPerChar: number;
  bitsPerByte: number;
  checkpoint: string;
}

/** Code points and UTF-8 bytes that tokens spell; a character split over tokens counts where its first byte is. */
export function textSize(tokenizer: Tokenizer, ids: ArrayLike<number>): { chars: number; bytes: number } {
  let chars = 0;
  let bytes = 0;
  for (let i = 0; i < ids.length; i++) {
    for (const b of tokenizer.tokenBytes(ids[i])) if ((b & 0xc0) !== 0x80) chars++;
    bytes += tokenizer.tokenBytes(ids[i]).length;
  }
  return { chars, bytes };
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
    const predicted = starts.length * window;
    // Windows are contiguous, so the predicted tokens are tokens[1 .. predicted].
    const { chars, bytes } = textSize(loaded.tokenizer, tokens.subarray(1, predicted + 1));
    const bits = (loss * predicted) / Math.LN2;
    return { loss, tokens: predicted, chars, bytes, bitsPerChar: bits / chars, bitsPerByte: bits / bytes, checkpoint: loaded.checkpoint };
  } finally {
    loaded.model.dispose();
  }
}

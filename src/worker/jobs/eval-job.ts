import { readCorpus } from '../../core/corpus';
import { UserError } from '../../core/errors';
import { everyTokenLoss } from '../model/evaluate';
import { loadModel } from './load-model';
import { BackendChoice } from '../engine/backend';
import { bitsPer, gzipBitsPerByte, textSize, tokenTextBytes, unigramBitsPerChar } from '../../core/baselines';

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
  /** What the loss has to beat on this text: ln |V|, the text's own character frequencies, gzip. */
  baselines: { uniform_loss: number; unigram_bits_per_char: number; gzip_bits_per_byte: number };
}

/** Mean next-token cross-entropy of a checkpoint over every token of a file, in context-long windows. */
export async function runEvalJob(checkpoint: string, file: string, backend: BackendChoice = 'auto', base?: string): Promise<EvalResult> {
  const corpus = readCorpus(file);
  const loaded = await loadModel(checkpoint, backend, base);
  try {
    const tokens = loaded.tokenizer.encodeAll(corpus.text);
    if (tokens.length < 2) throw new UserError('{0} has {1} token: evaluation needs at least 2', file, tokens.length);
    const window = Math.min(loaded.model.config.context, tokens.length - 1);
    const loss = await everyTokenLoss(loaded.model, tokens, window, 16);
    // Every token but the first (which has nothing before it) is predicted.
    const predicted = tokens.length - 1;
    const scored = tokens.subarray(1);
    const size = textSize(loaded.tokenizer, scored);
    const scoredBytes = tokenTextBytes(loaded.tokenizer, scored);
    const scoredText = new TextDecoder().decode(scoredBytes);
    const baselines = {
      uniform_loss: Math.log(loaded.tokenizer.vocabSize),
      unigram_bits_per_char: unigramBitsPerChar(scoredText, scoredText),
      gzip_bits_per_byte: gzipBitsPerByte(scoredBytes),
    };
    return { loss, tokens: predicted, ...size, ...bitsPer(loss, predicted, size), checkpoint: loaded.checkpoint, baselines };
  } finally {
    loaded.model.dispose();
  }
}

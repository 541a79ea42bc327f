import { tf } from '../engine/backend';
import { LoadedModel } from './load-model';
import { ScoredToken, SurprisalSummary, longestSharedSpan, summarise, tokenSpans } from '../../core/surprisal';
import { runOfCheckpoint } from '../../core/run-json';
import { readCorpus } from '../../core/corpus';

/** Tokens scored per document at most (the rest is left uncoloured, and the result says so). */
export const MAX_SURPRISAL_TOKENS = 20_000;

export interface SurprisalResult extends SurprisalSummary {
  scored: ScoredToken[];
  /** The document had more tokens than were scored. */
  truncated: boolean;
  /** The longest stretch of the document found verbatim in the model's training text, when that text is at hand. */
  copied?: { start: number; end: number; corpus: string };
}

/**
 * Scores every token of `text` but the first under the model: its rank among the predictions and
 * its bits. Windows of `context` tokens overlap by half, so each token is predicted from at least
 * half a context of what precedes it (the first window's tokens from all there is).
 */
export async function documentSurprisal(loaded: LoadedModel, text: string): Promise<SurprisalResult> {
  const { model, tokenizer } = loaded;
  const all = tokenizer.encode(text);
  const truncated = all.length > MAX_SURPRISAL_TOKENS;
  const ids = all.slice(0, MAX_SURPRISAL_TOKENS);
  const spans = tokenSpans(tokenizer, ids, text);
  const context = model.config.context;
  const stride = Math.max(1, Math.floor(context / 2));
  const scored: ScoredToken[] = [];
  let next = 1; // the first target not yet scored
  for (let w = 0; next < ids.length; w += stride) {
    const window = ids.slice(w, w + context + 1);
    const inputs = window.slice(0, -1);
    const logitsT = tf.tidy(() => model.forward(tf.tensor2d(inputs, [1, inputs.length], 'int32')));
    const logits = (await logitsT.data()) as Float32Array;
    logitsT.dispose();
    const vocab = tokenizer.vocabSize;
    for (let q = 0; q < inputs.length; q++) {
      const target = w + q + 1;
      if (target < next) continue;
      const row = logits.subarray(q * vocab, (q + 1) * vocab);
      const actual = row[ids[target]];
      let rank = 1;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) {
        if (row[v] > actual) rank++;
        if (row[v] > max) max = row[v];
      }
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(row[v] - max);
      const bits = (Math.log(sum) + max - actual) / Math.LN2;
      scored.push({ ...spans[target], id: ids[target], rank, bits });
      next = target + 1;
    }
  }
  return { scored, truncated, ...summarise(scored), copied: copiedSpan(loaded.checkpoint, text) };
}

/**
 * The training text is named in the run's run.json; a checkpoint outside a run, a moved corpus, or
 * one edited since (its hash differs: it is no longer what the model learned) has none.
 */
function copiedSpan(checkpoint: string, text: string): SurprisalResult['copied'] {
  try {
    const run = runOfCheckpoint(checkpoint, true)?.run;
    if (!run) return undefined;
    const { path: corpus, sha256 } = run.corpus;
    const training = readCorpus(corpus);
    if (training.sha256 !== sha256) return undefined;
    const span = longestSharedSpan(text, training.text);
    return { ...span, corpus };
  } catch {
    return undefined;
  }
}

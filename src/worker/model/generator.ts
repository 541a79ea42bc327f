import { tf } from '../engine/backend';
import { Gpt, disposeCache, newCache } from './gpt';
import { Tokenizer, decodeStream } from '../../core/tokenizer';
import { Rng, mixSeed } from '../../core/rng';
import { sampleToken } from '../../core/sampling';
import { GenerateOptions } from '../../core/generate-options';
import { StopSequenceFilter } from '../../core/stop-sequences';

export interface GenerateResult {
  text: string;
  /** The generated token ids (not the prompt's). */
  ids: number[];
  tokens: number;
  stoppedBy: 'max-tokens' | 'stop-sequence' | 'cancelled';
  msPerToken: number;
}

/** The ids a prompt is fed as: an empty one starts from a line break (or the first token when the vocabulary has none). */
export function promptIds(tokenizer: Tokenizer, prompt: string): number[] {
  const ids = tokenizer.encode(prompt.length > 0 ? prompt : '\n');
  return ids.length > 0 ? ids : [0];
}

/**
 * Continues `prompt` token by token with a KV cache. `onText` receives text as it becomes final:
 * never half of a multi-byte character, never part of a stop sequence.
 */
export async function generate(
  model: Gpt,
  tokenizer: Tokenizer,
  prompt: string,
  o: GenerateOptions,
  onText?: (text: string) => void,
  isCancelled?: () => boolean,
): Promise<GenerateResult> {
  const context = model.config.context;
  const history = promptIds(tokenizer, prompt);
  const rng = new Rng(mixSeed(o.seed, 0x9e4));
  const banned = tokenizer.neverGenerated;
  const stream = decodeStream(tokenizer);
  const stops = new StopSequenceFilter(o.stop);
  let text = '';
  const emit = (s: string) => {
    if (s) {
      text += s;
      onText?.(s);
    }
  };

  const cache = newCache();
  let logits: tf.Tensor1D | undefined;
  let produced = 0;
  let stoppedBy: GenerateResult['stoppedBy'] = 'max-tokens';
  const started = performance.now();
  try {
    while (produced < o.maxTokens) {
      if (isCancelled?.()) {
        stoppedBy = 'cancelled';
        break;
      }
      if (!logits) {
        // (Re)start from the most recent tokens: all of them at first, half a context once full.
        const keep = cache.length > 0 ? Math.max(1, Math.floor(context / 2)) : context;
        disposeCache(cache);
        logits = model.next(history.slice(-keep), cache);
      }
      const values = (await logits!.data()) as Float32Array;
      for (const id of banned) values[id] = -Infinity;
      const next = sampleToken(values, o, rng);
      logits!.dispose();
      logits = undefined;
      history.push(next);
      produced++;
      emit(stops.push(stream.push(next)));
      if (stops.stopped) {
        stoppedBy = 'stop-sequence';
        break;
      }
      if (produced < o.maxTokens && cache.length < context) logits = model.next([next], cache);
      if (produced % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    if (!stops.stopped) emit(stops.push(stream.flush()) + stops.flush());
  } finally {
    logits?.dispose();
    disposeCache(cache);
  }
  const ids = history.slice(history.length - produced);
  return { text, ids, tokens: produced, stoppedBy, msPerToken: produced ? (performance.now() - started) / produced : 0 };
}

import { tf } from '../engine/backend';
import { Inspection } from '../model/gpt';
import { promptIds } from '../model/generator';
import { LoadedModel } from './load-model';
import { shapeDistribution } from '../../core/distribution';
import { kvHeadOfEachHead } from '../../core/model-config';

export interface NextRequest {
  prompt: string;
  /** The text after the cursor: its first token is "the token that actually follows". */
  following?: string;
  /** Also read the next token off every layer (the logit lens). */
  lens?: boolean;
}

export interface TokenCandidate {
  id: number;
  text: string;
  prob: number;
}

export interface NextResult {
  /** Tokens fed (the prompt's last ≤ context), with their bytes for grouping into characters. */
  tokens: { id: number; text: string; bytes: number[] }[];
  promptTokens: number;
  /** The raw logits of the next token, one per vocabulary entry (id order). */
  logits: number[];
  /** Each token's text as a viewer shows it (byte pieces as hex), by id. */
  vocab: string[];
  /** Ids of tokens that are a piece of a character (or unknown): not text on their own. */
  pieces: number[];
  actual?: { id: number; text: string; rank: number; prob: number };
  /** Per layer (0 = the embeddings), the top 5 read through the final norm; the last row is the prediction. */
  lens?: TokenCandidate[][];
}

export interface AttentionResult {
  tokens: { id: number; text: string; bytes: number[] }[];
  /** [layer][head][query][key] */
  attention: number[][][][];
  /** Grouped-query attention: the key/value head each query head reads (core/model-config.ts kvHeadOfEachHead). */
  kvHeads?: number[];
}

/** The prompt's last ≤ context ids: what the model sees. */
function window(loaded: LoadedModel, prompt: string): number[] {
  return promptIds(loaded.tokenizer, prompt).slice(-loaded.model.config.context);
}

function describe(loaded: LoadedModel, ids: number[]) {
  return ids.map((id) => ({ id, text: loaded.tokenizer.tokenText(id), bytes: Array.from(loaded.tokenizer.tokenBytes(id)) }));
}

/** The model's next-token logits after `prompt`, the rank of the token that follows, and optionally the logit lens. */
export async function nextToken(loaded: LoadedModel, r: NextRequest): Promise<NextResult> {
  const { model, tokenizer } = loaded;
  const ids = window(loaded, r.prompt);
  const hidden: tf.Tensor2D[] = [];
  const [logitsT, ...lensT] = tf.tidy(() => {
    const inspect: Inspection = r.lens ? { hidden } : {};
    const all = model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { inspect });
    const last = (x: tf.Tensor2D) => tf.slice(x, [ids.length - 1, 0], [1, -1]);
    return [
      tf.reshape(tf.slice(all, [ids.length - 1, 0], [1, -1]), [-1]),
      ...hidden.map((h) => tf.reshape(tf.softmax(model.readOut(last(h))), [-1])),
    ];
  });
  const logits = Array.from((await logitsT.data()) as Float32Array);
  const lensProbs = await Promise.all(lensT.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([logitsT, ...lensT]);
  const vocab = Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.tokenText(id));
  const pieces = vocab.flatMap((_, id) => (tokenizer.isByteFallback(id) ? [id] : []));
  const result: NextResult = { tokens: describe(loaded, ids), promptTokens: ids.length, logits, vocab, pieces };
  const following = r.following ? tokenizer.encode(r.following)[0] : undefined;
  if (following !== undefined) {
    const shaped = shapeDistribution(logits, { temperature: 1, topK: 0, topP: 1 });
    result.actual = { id: following, text: vocab[following], rank: shaped.order.indexOf(following) + 1, prob: shaped.probs[following] };
  }
  if (r.lens) {
    result.lens = lensProbs.map((probs) => topIds(probs, 5).map((id) => ({ id, text: vocab[id], prob: probs[id] })));
  }
  return result;
}

/** The ids of the `k` largest values, largest first (ties: the lower id), in one pass: a vocabulary of 50,257 is read once per layer. */
export function topIds(values: Float32Array, k: number): number[] {
  const top: number[] = [];
  for (let id = 0; id < values.length; id++) {
    if (top.length === k) {
      if (values[id] <= values[top[k - 1]]) continue;
      top.pop();
    }
    let at = top.length;
    while (at > 0 && values[top[at - 1]] < values[id]) at--;
    top.splice(at, 0, id);
  }
  return top;
}

/** Attention probabilities of every layer and head over the prompt's last ≤ context tokens. */
export async function attentionMaps(loaded: LoadedModel, prompt: string): Promise<AttentionResult> {
  const ids = window(loaded, prompt);
  const maps: tf.Tensor3D[] = [];
  const kept = tf.tidy(() => {
    loaded.model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { inspect: { attention: maps } });
    return maps.slice();
  });
  const attention = await Promise.all(kept.map(async (m) => (await m.array()) as number[][][]));
  tf.dispose(kept);
  const kvHeads = kvHeadOfEachHead(loaded.model.config);
  return { tokens: describe(loaded, ids), attention, ...(kvHeads ? { kvHeads } : {}) };
}

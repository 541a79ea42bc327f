import { isObject } from '../../core/json';

// Messages of the Next Token view and the Attention panel (both sides validate what they receive).

export interface ShownToken {
  id: number;
  text: string;
  bytes: number[];
}

export interface NextTokenData {
  source: string;
  model: string;
  /** The tokens the model saw, ending at the cursor. */
  tokens: ShownToken[];
  logits: number[];
  vocab: string[];
  /** Tokens that are a piece of a character (not insertable alone). */
  pieces: number[];
  actual?: { id: number; text: string; rank: number; prob: number };
  /** The logit lens: per layer (0 = the embeddings), the top 5 read through the final norm; the last row is the prediction. */
  lens?: { id: number; text: string; prob: number }[][];
  /** Sampling settings the sliders start from (the completion settings). */
  start: { temperature: number; topK: number; topP: number };
  ms: number;
  strings: Record<string, string>;
}

export type ToNextToken = ({ type: 'next' } & NextTokenData) | { type: 'empty'; message: string };
export type FromNextToken = { type: 'ready' } | { type: 'insert'; id: number };

export interface AttentionData {
  source: string;
  model: string;
  tokens: ShownToken[];
  /** [layer][head][query][key] */
  attention: number[][][][];
  /** Grouped-query attention: the key/value head each query head reads; absent when each has its own. */
  kvHeads?: number[];
  strings: Record<string, string>;
}

export type ToAttention = ({ type: 'attention' } & AttentionData) | { type: 'empty'; message: string };
export type FromAttention = { type: 'ready' };

const isNumbers = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number');
const isTokens = (x: unknown) =>
  Array.isArray(x) && x.every((t) => isObject(t) && typeof t.id === 'number' && typeof t.text === 'string' && isNumbers(t.bytes));

export function parseToNextToken(m: unknown): ToNextToken | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'empty') return typeof m.message === 'string' ? (m as ToNextToken) : undefined;
  const ok =
    m.type === 'next' &&
    isTokens(m.tokens) &&
    isNumbers(m.logits) &&
    Array.isArray(m.vocab) &&
    m.vocab.length === m.logits.length &&
    isObject(m.start) &&
    isObject(m.strings) &&
    (m.lens === undefined ||
      (Array.isArray(m.lens) &&
        m.lens.every(
          (row) =>
            Array.isArray(row) &&
            row.every((c) => isObject(c) && typeof c.id === 'number' && typeof c.text === 'string' && typeof c.prob === 'number'),
        )));
  return ok ? (m as ToNextToken) : undefined;
}

export function parseFromNextToken(m: unknown): FromNextToken | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'ready') return { type: 'ready' };
  return m.type === 'insert' && Number.isInteger(m.id) ? { type: 'insert', id: m.id as number } : undefined;
}

export function parseToAttention(m: unknown): ToAttention | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'empty') return typeof m.message === 'string' ? (m as ToAttention) : undefined;
  const ok =
    m.type === 'attention' &&
    isTokens(m.tokens) &&
    Array.isArray(m.attention) &&
    isObject(m.strings) &&
    (m.kvHeads === undefined || isNumbers(m.kvHeads));
  return ok ? (m as ToAttention) : undefined;
}

export function parseFromAttention(m: unknown): FromAttention | undefined {
  return isObject(m) && m.type === 'ready' ? { type: 'ready' } : undefined;
}

export type SurprisalMode = 'rank' | 'bits';

export interface SurprisalData {
  source: string;
  model: string;
  mode: SurprisalMode;
  tokens: number;
  chars: number;
  bitsPerChar: number;
  /** Tokens per bucket: RANK_LIMITS / BITS_LIMITS of core/surprisal. */
  rankHistogram: number[];
  bitsHistogram: number[];
  truncated: boolean;
  /** The longest stretch of the document found verbatim in the training text. */
  copied?: { text: string; chars: number; corpus: string };
  strings: Record<string, string>;
}

export type ToSurprisal = ({ type: 'surprisal' } & SurprisalData) | { type: 'empty'; message: string };
export type FromSurprisal = { type: 'ready' } | { type: 'mode'; mode: SurprisalMode } | { type: 'revealCopied' };

const isCounts = (x: unknown, n: number) => Array.isArray(x) && x.length === n && x.every((v) => Number.isInteger(v) && v >= 0);

export function parseToSurprisal(m: unknown): ToSurprisal | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'empty') return typeof m.message === 'string' ? (m as ToSurprisal) : undefined;
  if (m.type !== 'surprisal' || (m.mode !== 'rank' && m.mode !== 'bits') || !isObject(m.strings)) return undefined;
  if (!isCounts(m.rankHistogram, 4) || !isCounts(m.bitsHistogram, 5) || typeof m.bitsPerChar !== 'number') return undefined;
  const c = m.copied;
  if (c !== undefined && !(isObject(c) && typeof c.text === 'string' && typeof c.chars === 'number' && typeof c.corpus === 'string'))
    return undefined;
  return m as ToSurprisal;
}

export function parseFromSurprisal(m: unknown): FromSurprisal | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'ready' || m.type === 'revealCopied') return { type: m.type };
  if (m.type === 'mode' && (m.mode === 'rank' || m.mode === 'bits')) return { type: 'mode', mode: m.mode };
  return undefined;
}

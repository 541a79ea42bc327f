/**
 * Which model serves a document: the user's choice for it, else a model trained on that very file,
 * else the one whose tokenizer knows the document's letters, else the default (the active model).
 */

/** From this share of unknown letters on, a model knows too little of a text to continue it. */
export const MOSTLY_UNKNOWN = 0.5;

/** Another model serves a text instead of the default only when it knows clearly more of its letters. */
export const LANGUAGE_MARGIN = 0.1;

const LETTER = /\p{L}/u;

/**
 * The share of the letters in `text` that are not among `learned` (0: all known, 1: none), or
 * undefined when the text has no letters. Letters only: spaces, digits and punctuation are shared by
 * most languages and say little about which one a text is in. `learned` null: a tokenizer that
 * tells nothing (a byte model without merges), which knows every text equally.
 */
export function unknownLetterShare(text: string, learned: ReadonlySet<string> | null): number | undefined {
  let letters = 0;
  let unknown = 0;
  for (const c of text) {
    if (!LETTER.test(c)) continue;
    letters++;
    if (learned && !learned.has(c)) unknown++;
  }
  return letters === 0 ? undefined : unknown / letters;
}

export type ServingReason = 'chosen' | 'trained' | 'language' | 'default';

export interface ServingChoice {
  model: string;
  reason: ServingReason;
}

export interface ModelCandidate {
  model: string;
  /** unknownLetterShare of the document's text; undefined when the text has no letters. */
  unknownShare: number | undefined;
}

/**
 * `candidates` in order of preference among equals (newest run first). The default stays unless
 * another model knows clearly more of the text (LANGUAGE_MARGIN) and that one is not itself mostly
 * ignorant of it (MOSTLY_UNKNOWN).
 */
export function chooseServingModel(input: {
  chosen?: string;
  trainedOnFile?: string;
  defaultModel?: string;
  candidates: ModelCandidate[];
}): ServingChoice | undefined {
  if (input.chosen) return { model: input.chosen, reason: 'chosen' };
  if (input.trainedOnFile) return { model: input.trainedOnFile, reason: 'trained' };
  const scored = input.candidates.filter((c): c is { model: string; unknownShare: number } => c.unknownShare !== undefined);
  const best = scored.reduce<(typeof scored)[number] | undefined>(
    (b, c) => (b === undefined || c.unknownShare < b.unknownShare ? c : b),
    undefined,
  );
  const ownShare = scored.find((c) => c.model === input.defaultModel)?.unknownShare ?? 1;
  if (best && best.model !== input.defaultModel && best.unknownShare < MOSTLY_UNKNOWN && best.unknownShare + LANGUAGE_MARGIN < ownShare)
    return { model: best.model, reason: 'language' };
  return input.defaultModel ? { model: input.defaultModel, reason: 'default' } : undefined;
}

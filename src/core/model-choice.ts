/**
 * Which model serves a document: the user's choice for it, else a model trained on that very file
 * (the best of them by validation loss, experiment arms left out), else the one whose tokenizer
 * knows the document's letters, else the default (the active model).
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

/** A model trained on the document's own file. */
export interface TrainedOnFile {
  model: string;
  /** The checkpoint's validation loss, in nats per token of its tokenizer. */
  valLoss?: number;
  /** Tokens per UTF-8 byte of the file under the run's tokenizer (run.json's corpus tokens / bytes). */
  tokensPerByte?: number;
  /** An arm of an experiment (LayerNorm vs DyT, more seeds): it serves only when the user chose it. */
  experiment?: boolean;
}

/**
 * The validation loss in bits per byte of the file: losses of different tokenizers on the same text
 * compare in these terms (for one text they order as bits per character do). Unknown: Infinity.
 */
export function bitsPerByte(m: Pick<TrainedOnFile, 'valLoss' | 'tokensPerByte'>): number {
  if (m.valLoss === undefined || !Number.isFinite(m.valLoss)) return Infinity;
  if (m.tokensPerByte === undefined || !(m.tokensPerByte > 0)) return Infinity;
  return (m.valLoss * m.tokensPerByte) / Math.LN2;
}

/**
 * Which of the models trained on a file serves it: the active one when it is among them (the user
 * made it active, or it won the file), else the lowest validation loss on comparable terms, the
 * first of equals (newest run first). Experiment arms never serve by themselves.
 */
export function bestTrainedOnFile(candidates: TrainedOnFile[], active?: string): string | undefined {
  if (active && candidates.some((c) => c.model === active)) return active;
  const eligible = candidates.filter((c) => !c.experiment);
  return eligible.reduce<TrainedOnFile | undefined>((b, c) => (b === undefined || bitsPerByte(c) < bitsPerByte(b) ? c : b), undefined)
    ?.model;
}

/**
 * Whether a newly trained model takes its file from `incumbent`, the model serving that file now
 * (undefined: none trained on it serves it). Never an experiment arm, never a model the user chose
 * for the file, and otherwise only a clearly known lower validation loss.
 */
export function takesFileFrom(challenger: TrainedOnFile, incumbent: (TrainedOnFile & { chosen?: boolean }) | undefined): boolean {
  if (challenger.experiment) return false;
  if (!incumbent) return true;
  if (incumbent.chosen) return false;
  const theirs = bitsPerByte(incumbent);
  return theirs === Infinity || bitsPerByte(challenger) < theirs;
}

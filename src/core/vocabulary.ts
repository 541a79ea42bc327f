/** A tokenizer as run.json and the chart describe it. */
export interface VocabularyId {
  kind: string;
  vocabSize: number;
  sha256?: string;
}

/**
 * Whether two runs share a vocabulary, so that their losses per token compare. By content when
 * both record a hash (two char tokenizers of different texts differ), else by kind and size.
 */
export function sameVocabulary(a: VocabularyId | undefined, b: VocabularyId | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.sha256 && b.sha256) return a.sha256 === b.sha256;
  return a.kind === b.kind && a.vocabSize === b.vocabSize;
}

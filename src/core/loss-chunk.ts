/**
 * Logits of a training loss chunk kept near 8 M floats (32 MB; Qwen2.5's 151,936 vocabulary: 55
 * rows): smaller chunks read the whole head matrix more often. Tests lower it to see chunks at
 * small shapes.
 */
export const lossChunk = { floats: 8 * 1024 * 1024 };

/** Rows of hidden states whose logits one chunk holds. */
export function lossChunkRows(vocab: number): number {
  return Math.max(1, Math.floor(lossChunk.floats / vocab));
}

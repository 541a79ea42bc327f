import type { NamedTensors } from './tensor';

// Dynamic Tanh, DyT(x) = γ·tanh(α·x) + β (Zhu, Chen, He, LeCun, Liu, "Transformers without
// Normalization", CVPR 2025), set up as the paper sets it up for language models (its LLaMA code,
// github.com/jiachenzhu/DyT other_tasks/LLaMA): a learnable scalar after the embeddings,
// initialised to √width, and α₀ chosen per place (before attention, or elsewhere) and for the width.

/** The learnable scalar the embeddings (token + position) are multiplied by, shape [1]. */
export const EMBED_SCALE = 'transformer.embed_scale';

/** config.json's model_type for a Dynamic Tanh model: not GPT-2's, so Hugging Face tools refuse it. */
export const DYT_MODEL_TYPE = 'corpus-lab-gpt2-dyt';
export const DYT_ARCHITECTURE = 'CorpusLabGpt2DytForCausalLM';

/**
 * α₀ before attention / elsewhere in the authors' LLaMA 2 runs, by width (7B, 13B, 34B and 70B;
 * other_tasks/LLaMA/README.md): the wider the model, the smaller, and depth made no difference.
 */
const AUTHORS_ALPHA: readonly { width: number; attention: number; other: number }[] = [
  { width: 8192, attention: 0.2, other: 0.05 },
  { width: 5120, attention: 0.6, other: 0.15 },
  { width: 4096, attention: 0.8, other: 0.2 },
];

/** α₀ before attention (ln_1) and elsewhere (ln_2, ln_f), and the embedding scale's start, for a width. */
export function dytInit(width: number): { attention: number; other: number; embedScale: number } {
  return { ...dytAlpha(width), embedScale: Math.sqrt(width) };
}

function dytAlpha(width: number): { attention: number; other: number } {
  const row = AUTHORS_ALPHA.find((r) => width >= r.width);
  if (row) return { attention: row.attention, other: row.other };
  // Narrower: α₀ ∝ 1/width from the 7B setting (which gives the 13B one within 7%): 25.6 / 6.4
  // at the tiny preset's 128. Far smaller starts (2 / 1 there, or 0.5 everywhere) leave it at
  // the unigram loss of a small corpus.
  const k = 4096 / width;
  return { attention: 0.8 * k, other: 0.2 * k };
}

/**
 * The tensors a Dynamic Tanh model from before the embedding scale holds (isLegacyDytConfig):
 * all but the scale. `shapes` is what the model holds now.
 */
export function legacyDytShapes(shapes: Map<string, number[]>): Map<string, number[]> {
  const out = new Map(shapes);
  out.delete(EMBED_SCALE);
  return out;
}

/** Such a model's weights with the scale it ran with (1), and with `moments`, their AdamW moments for it (0). */
export function addLegacyEmbedScale(weights: NamedTensors, moments?: NamedTensors): void {
  weights.set(EMBED_SCALE, { shape: [1], data: Float32Array.of(1) });
  for (const m of ['m', 'v']) moments?.set(`${m}.${EMBED_SCALE}`, { shape: [1], data: Float32Array.of(0) });
}

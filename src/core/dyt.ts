import type { NamedTensors } from './tensor';

// Dynamic Tanh, DyT(x) = γ·tanh(α·x) + β (Zhu, Chen, He, LeCun, Liu, "Transformers without
// Normalization", CVPR 2025), with what the paper adds for language models (its LLaMA code,
// github.com/jiachenzhu/DyT other_tasks/LLaMA): a learnable scalar after the embeddings, and α₀
// chosen for the std of what each norm sees at the start.

/** The learnable scalar the embeddings (token + position) are multiplied by, shape [1]. */
export const EMBED_SCALE = 'transformer.embed_scale';

/** config.json's model_type for a Dynamic Tanh model: not GPT-2's, so Hugging Face tools refuse it. */
export const DYT_MODEL_TYPE = 'corpus-lab-gpt2-dyt';
export const DYT_ARCHITECTURE = 'CorpusLabGpt2DytForCausalLM';

/** The residual stream's std at the start: token + position embeddings, each N(0, 0.02) (weight-table.ts). */
const INITIAL_STD = 0.02 * Math.SQRT2;

/**
 * Where α and the embedding scale start (the same at every width and before attention as
 * elsewhere). The paper finds α tracks 1/std of a norm's input, and its 7B model's α₀ before
 * attention, 0.8, is 1/std of its embeddings (0.02·√4096 = 1.28, after its scalar started at √width):
 * here α₀ = 1/INITIAL_STD ≈ 35. The scalar starts at 1, GPT-2's own balance of embeddings and block
 * outputs: at √width (11.3 on the tiny preset) the embeddings drown the blocks' outputs, and with
 * α₀ from 8 to 25.6 the tiny preset stays near the unigram loss of speech-ko.txt for its default
 * 180 steps, as it does with the paper's 4:1 ratio (α₀ 35 before attention, 9 elsewhere) or the old 0.5.
 */
export const DYT_INIT = { alpha: 1 / INITIAL_STD, embedScale: 1 } as const;

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

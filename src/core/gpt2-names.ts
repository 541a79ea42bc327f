import { ModelConfig } from './model-config';

/**
 * The weights of a model, by Hugging Face GPT-2 name, with their shapes (Conv1D layout: [in, out]).
 * The head is tied to transformer.wte.weight and not stored. Dynamic Tanh norms add `.alpha` [1].
 */
export function expectedWeightShapes(c: ModelConfig): Map<string, number[]> {
  const w = c.width;
  const shapes = new Map<string, number[]>();
  const norm = (prefix: string) => {
    shapes.set(`${prefix}.weight`, [w]);
    shapes.set(`${prefix}.bias`, [w]);
    if (c.norm === 'dyt') shapes.set(`${prefix}.alpha`, [1]);
  };
  shapes.set('transformer.wte.weight', [c.vocabSize, w]);
  shapes.set('transformer.wpe.weight', [c.context, w]);
  for (let i = 0; i < c.layers; i++) {
    const p = `transformer.h.${i}`;
    norm(`${p}.ln_1`);
    shapes.set(`${p}.attn.c_attn.weight`, [w, 3 * w]);
    shapes.set(`${p}.attn.c_attn.bias`, [3 * w]);
    shapes.set(`${p}.attn.c_proj.weight`, [w, w]);
    shapes.set(`${p}.attn.c_proj.bias`, [w]);
    norm(`${p}.ln_2`);
    shapes.set(`${p}.mlp.c_fc.weight`, [w, 4 * w]);
    shapes.set(`${p}.mlp.c_fc.bias`, [4 * w]);
    shapes.set(`${p}.mlp.c_proj.weight`, [4 * w, w]);
    shapes.set(`${p}.mlp.c_proj.bias`, [w]);
  }
  norm('transformer.ln_f');
  return shapes;
}

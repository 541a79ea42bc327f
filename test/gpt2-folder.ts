// GPT-2-layout model folders with random weights, written by the tests themselves (no download):
// shared by the unit tests (test/unit) and the extension's integration tests (test/integration).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { weightShapes } from '../src/core/weight-table';
import { ModelConfig } from '../src/core/model-config';
import { HostTensor, NamedTensors } from '../src/core/tensor';
import { encodeSafetensors } from '../src/core/safetensors';
import { Rng } from '../src/core/rng';

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

export function randomTensor(shape: number[], rng: Rng, std: number, mean = 0): HostTensor {
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => mean + std * gaussian(rng)) };
}

/** Random GPT-2 weights under our names; norms near 1, everything else small and non-zero. */
export function randomWeights(c: ModelConfig, seed: number): NamedTensors {
  const rng = new Rng(seed);
  const out: NamedTensors = new Map();
  for (const [name, shape] of weightShapes(c))
    out.set(
      name,
      randomTensor(
        shape,
        rng,
        name.includes('.ln_') && name.endsWith('.weight') ? 0.1 : 0.2,
        name.includes('.ln_') && name.endsWith('.weight') ? 1 : 0,
      ),
    );
  return out;
}

/** config.json as transformers writes it for a GPT-2 (no corpus_lab block). */
export function hfConfigJson(c: ModelConfig, extra: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      activation_function: 'gelu_new',
      architectures: ['GPT2LMHeadModel'],
      attn_pdrop: 0.1,
      bos_token_id: c.vocabSize - 1,
      embd_pdrop: 0.1,
      eos_token_id: c.vocabSize - 1,
      initializer_range: 0.02,
      layer_norm_epsilon: 1e-5,
      model_type: 'gpt2',
      n_ctx: c.context,
      n_embd: c.width,
      n_head: c.heads,
      n_inner: null,
      n_layer: c.layers,
      n_positions: c.context,
      resid_pdrop: 0.1,
      summary_type: 'cls_index',
      task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
      vocab_size: c.vocabSize,
      ...extra,
    },
    null,
    2,
  );
}

/**
 * A Hugging Face GPT-2 folder at `dir`. bare: openai-community/gpt2's layout (no prefix, with the
 * mask buffers h.{i}.attn.bias [1,1,n,n] and h.{i}.attn.masked_bias []); else `transformer.` names
 * with lm_head.weight (tied: a copy of wte).
 */
export function writeGpt2Folder(
  dir: string,
  c: ModelConfig,
  weights: NamedTensors,
  tokenizerJson: string,
  opts: { style?: 'bare' | 'prefixed'; lmHead?: HostTensor; configExtra?: Record<string, unknown> } = {},
): string {
  const style = opts.style ?? 'bare';
  mkdirSync(dir, { recursive: true });
  const tensors: NamedTensors = new Map();
  for (const [n, t] of weights) tensors.set(style === 'bare' ? n.replace(/^transformer\./, '') : n, t);
  if (style === 'bare') {
    const mask = new Float32Array(c.context * c.context);
    for (let i = 0; i < c.context; i++) for (let j = 0; j <= i; j++) mask[i * c.context + j] = 1;
    for (let i = 0; i < c.layers; i++) {
      tensors.set(`h.${i}.attn.bias`, { shape: [1, 1, c.context, c.context], data: mask });
      tensors.set(`h.${i}.attn.masked_bias`, { shape: [], data: Float32Array.of(-1e4) });
    }
  } else tensors.set('lm_head.weight', opts.lmHead ?? weights.get('transformer.wte.weight')!);
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  writeFileSync(join(dir, 'config.json'), hfConfigJson(c, opts.configExtra));
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson);
  return dir;
}

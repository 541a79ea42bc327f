import { tf } from '../backend';
import { LlamaBlocks, ModelConfig } from '../../../core/model-config';
import { ModelNames } from '../../../core/weight-table';
import { inverseFrequencies } from '../../../core/rope';
import { EMBED_SCALE } from '../../../core/dyt';
import { callKernel, heap, requireNative } from './kernel-module';
import { heldAsBf16 } from './bf16-matrix';

/**
 * Floats of a native KV cache: keys and values [layers][2][context][width] (native/decode.h), or
 * for Llama-family blocks [layers][2][context][kvHeads·headDim] (native/llama-decode.h).
 */
export const kvCacheFloats = (c: ModelConfig) => c.layers * 2 * c.context * (c.llama ? c.llama.kvHeads * c.llama.headDim : c.width);

/**
 * The whole forward of one generation step on the native engine in one call (as llama.cpp decodes):
 * `ids` after the `start` tokens whose keys and values are in `kv` (JS-owned memory outside the
 * wasm heap, so it goes with the cache object), theirs written after them; the last position's
 * logits [vocab]. `weights` in native/addon.cc's order (gpt2DecodeWeights, llamaDecodeWeights),
 * undefined where a model has no such weight; a Llama-family model's matrices all float32 or all
 * held as BF16 (kernels/bf16-matrix.ts).
 */
export function fusedDecode(
  config: ModelConfig,
  weights: Array<tf.Tensor | undefined>,
  ids: number[],
  start: number,
  kv: Float32Array,
): tf.Tensor1D {
  const native = requireNative('fused decode');
  const present = weights.filter((w): w is tf.Tensor => w !== undefined);
  const offsets = new Float64Array(weights.length);
  const { layers, heads, width, context, vocabSize, norm, llama } = config;
  const [logits] = callKernel(present, [[vocabSize]], 0, (_, at) => {
    let next = 0;
    weights.forEach((w, i) => (offsets[i] = w ? at[next++] : 0));
    const logitsAt = at[next];
    if (llama) {
      const { kvHeads, headDim, mlpWidth, normEps } = llama;
      native.decodeLlama(
        heap(),
        kv.buffer as ArrayBuffer,
        offsets,
        inverseFrequencies(llama),
        Int32Array.from(ids),
        start,
        logitsAt,
        layers,
        heads,
        kvHeads,
        headDim,
        width,
        mlpWidth,
        context,
        vocabSize,
        normEps,
        heldAsBf16(weights[0]!) ? 1 : 0,
      );
    } else {
      native.decode(
        heap(),
        kv.buffer as ArrayBuffer,
        offsets,
        Int32Array.from(ids),
        start,
        logitsAt,
        layers,
        heads,
        width,
        context,
        vocabSize,
        norm === 'dyt' ? 1 : 0,
      );
    }
  });
  return logits as tf.Tensor1D;
}

/**
 * A GPT-2 model's weights in the fused decode's order: the token and position embeddings; per block
 * the attention norm (weight, bias, Dynamic Tanh's α), qkv and its bias, o and its bias, the MLP
 * norm, up and its bias, down and its bias; the final norm; Dynamic Tanh's embedding scale.
 * `weight` answers undefined for a weight the model lacks (α and the scale but with Dynamic Tanh);
 * `bias` gives a layer's bias, zeros for a model without them.
 */
export function gpt2DecodeWeights(
  config: ModelConfig,
  names: ModelNames,
  weight: (name: string) => tf.Tensor | undefined,
  bias: (prefix: string, size: number) => tf.Tensor,
): Array<tf.Tensor | undefined> {
  const c = config.width;
  const norm = (prefix: string) => [weight(`${prefix}.weight`), bias(prefix, c), weight(`${prefix}.alpha`)];
  const linear = (prefix: string, outputs: number) => [weight(`${prefix}.weight`), bias(prefix, outputs)];
  const blocks = Array.from({ length: config.layers }, (_, i) => {
    const n = names.block(i);
    return [
      ...norm(n.attentionNorm),
      ...linear(n.qkv!, 3 * c),
      ...linear(n.o, c),
      ...norm(n.mlpNorm),
      ...linear(n.up, 4 * c),
      ...linear(n.down, c),
    ];
  });
  return [
    weight(`${names.embedding}.weight`),
    weight(`${names.positions}.weight`),
    ...blocks.flat(),
    ...norm(names.finalNorm),
    weight(EMBED_SCALE),
  ];
}

/**
 * A Llama-family model's weights in the fused decode's order: the embedding; per block the
 * attention norm, q, q bias, k, k bias, v, v bias, q norm, k norm, o, the MLP norm, gate, up, down;
 * the final norm; the head (undefined when tied). `weight` answers undefined for a weight the
 * model lacks (biases but Qwen2's, q/k norms but Qwen3's).
 */
export function llamaDecodeWeights(
  config: ModelConfig & { llama: LlamaBlocks },
  names: ModelNames,
  weight: (name: string) => tf.Tensor | undefined,
): Array<tf.Tensor | undefined> {
  const blocks = Array.from({ length: config.layers }, (_, i) => {
    const n = names.block(i);
    return [
      `${n.attentionNorm}.weight`,
      `${n.q}.weight`,
      `${n.q}.bias`,
      `${n.k}.weight`,
      `${n.k}.bias`,
      `${n.v}.weight`,
      `${n.v}.bias`,
      config.llama.qkNorm ? `${n.qNorm}.weight` : '',
      config.llama.qkNorm ? `${n.kNorm}.weight` : '',
      `${n.o}.weight`,
      `${n.mlpNorm}.weight`,
      `${n.gate}.weight`,
      `${n.up}.weight`,
      `${n.down}.weight`,
    ];
  });
  const order = [`${names.embedding}.weight`, ...blocks.flat(), `${names.finalNorm}.weight`, names.head ? `${names.head}.weight` : ''];
  return order.map((name) => (name ? weight(name) : undefined));
}

import { tf } from '../backend';
import { ModelConfig } from '../../../core/model-config';
import { callKernel, heap, requireNative } from './kernel-module';

/** Floats of a native KV cache: keys and values [layers][2][context][width] (native/decode.h). */
export const kvCacheFloats = (c: ModelConfig) => c.layers * 2 * c.context * c.width;

/**
 * The whole forward of one generation step on the native engine in one call (as llama.cpp decodes):
 * `ids` after the `start` tokens whose keys and values are in `kv` (JS-owned memory outside the
 * wasm heap, so it goes with the cache object), theirs written after them; the last position's
 * logits [vocab]. `weights` in native/addon.cc's order: wte, wpe, each block's ln_1 (weight, bias,
 * α), c_attn, c_proj, ln_2, c_fc, mlp.c_proj (weight, bias), ln_f, the embedding scale; α and the
 * scale undefined for layer norm.
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
  const { layers, heads, width, context, vocabSize, norm } = config;
  const [logits] = callKernel(present, [[vocabSize]], 0, (_, at) => {
    let next = 0;
    weights.forEach((w, i) => (offsets[i] = w ? at[next++] : 0));
    native.decode(
      heap(),
      kv.buffer as ArrayBuffer,
      offsets,
      Int32Array.from(ids),
      start,
      at[next],
      layers,
      heads,
      width,
      context,
      vocabSize,
      norm === 'dyt' ? 1 : 0,
    );
  });
  return logits as tf.Tensor1D;
}

import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { nativeAddon } from '../native';
import { callKernel, heap, requireNative } from './kernel-module';

/**
 * A Llama-family block's weights in the native call's order (native/llama-block.h), nn.Linear
 * layout [out, in]: input_layernorm; q_proj, its bias, k_proj, its bias, v_proj, its bias; q_norm,
 * k_norm; o_proj; post_attention_layernorm; gate_proj, up_proj, down_proj. The biases (Qwen2) and
 * the q/k norms (Qwen3) are undefined where the family has none.
 */
export type LlamaBlockWeights = Array<tf.Tensor | undefined>;

export const LLAMA_BLOCK_WEIGHTS = 14;
const [Q_BIAS, Q_NORM, GATE] = [2, 7, 11];

/** What the block's shape needs beyond x's and the weights': batch, time, heads, key/value heads and the norms' eps. */
export interface LlamaBlockShape {
  b: number;
  t: number;
  heads: number;
  kvHeads: number;
  eps: number;
}

/**
 * x + o_proj(attention(rope(q), rope(k), v)) of RMSNorm(x), then + down_proj(silu(gate_proj(·)) ·
 * up_proj(·)) of RMSNorm(·), for x [b·t, width], as one native call each way: the kernels the
 * block's ops run one by one, in the same order. cos and sin [t, (1,) headDim/2] rotate positions
 * 0 … t − 1 (no KV cache); they are constants (no gradient).
 */
export function nativeLlamaBlock(
  x: tf.Tensor,
  weights: LlamaBlockWeights,
  cos: tf.Tensor,
  sin: tf.Tensor,
  shape: LlamaBlockShape,
): tf.Tensor2D {
  const native = requireNative('Llama block');
  if (weights.length !== LLAMA_BLOCK_WEIGHTS) throw new Error(`internal: a Llama block of ${weights.length} weights`);
  const { b, t, heads, kvHeads, eps } = shape;
  const width = x.shape[1] as number;
  const headDim = (2 * cos.size) / t;
  const mlpWidth = weights[GATE]!.shape[0];
  const dims = [b, t, heads, kvHeads, headDim, width, mlpWidth, eps, weights[Q_BIAS] ? 1 : 0, weights[Q_NORM] ? 1 : 0] as const;
  const present = weights.filter((w): w is tf.Tensor => w !== undefined);
  // The 14 weight slots from the offsets of the present weights, -1 where there is none.
  const slots = (at: number[]) => {
    let next = 0;
    return weights.map((w) => (w ? at[next++] : -1));
  };
  // A size, not a kernel: asked of the addon itself, so a profiled step does not list it.
  const savedFloats = nativeAddon()!.llamaBlockSavedFloats(heap(), ...dims);
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const inputs = args.slice(0, -1) as tf.Tensor[];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const w = present.length;
    const [y, saved] = callKernel([...inputs, cos, sin], [[b * t, width], [savedFloats]], 0, (_, at) =>
      native.llamaBlockForward(heap(), Float64Array.from([at[0], ...slots(at.slice(1, 1 + w)), ...at.slice(1 + w, 5 + w)]), ...dims),
    );
    // The weights (the model's, alive all step) are read where they are. cos and sin are saved: the
    // forward's own tensors are gone by the backward pass (tf.grad tidies them).
    save([inputs[0], saved, cos, sin]);
    return {
      value: y as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, [sx, ssaved, scos, ssin]: tf.Tensor[]) =>
        callKernel([sx, ...present, scos, ssin, ssaved, dy], [sx.shape, ...present.map((p) => p.shape)], 0, (_, at) =>
          native.llamaBlockBackward(
            heap(),
            Float64Array.from([at[0], ...slots(at.slice(1, 1 + w)), ...at.slice(1 + w, 6 + w), ...slots(at.slice(6 + w))]),
            ...dims,
          ),
        ),
    };
  }) as (...xs: tf.Tensor[]) => tf.Tensor2D;
  return f(x, ...present);
}

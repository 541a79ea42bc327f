import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { nativeAddon } from '../native';
import { heldAsBf16 } from './bf16-matrix';
import { callKernel, heap, requireNative } from './kernel-module';

/**
 * A Llama-family block's weights in the native call's order (native/llama-block.h), nn.Linear
 * layout [out, in]: input_layernorm; q_proj, its bias, k_proj, its bias, v_proj, its bias; q_norm,
 * k_norm; o_proj; post_attention_layernorm; gate_proj, up_proj, down_proj. The biases (Qwen2) and
 * the q/k norms (Qwen3) are undefined where the family has none.
 */
export type LlamaBlockWeights = Array<tf.Tensor | undefined>;

export const LLAMA_BLOCK_WEIGHTS = 14;
const [Q_WEIGHT, Q_BIAS, Q_NORM, GATE] = [1, 2, 7, 11];

/** The projections an adapter may sit on, in the native call's order. */
export const LLAMA_BLOCK_PROJECTIONS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;

/** What the block's shape needs beyond x's and the weights': batch, time, heads, key/value heads and the norms' eps. */
export interface LlamaBlockShape {
  b: number;
  t: number;
  heads: number;
  kvHeads: number;
  eps: number;
}

/**
 * LoRA on the block: its weights frozen (float32, or held as BF16), adapters A [r, in] and
 * B [out, r] of the projections in LLAMA_BLOCK_PROJECTIONS' order (A, B of each; undefined where
 * a projection has none), adding scale·(x·Aᵀ)·Bᵀ.
 */
export interface LlamaBlockLora {
  adapters: Array<tf.Tensor | undefined>;
  rank: number;
  scale: number;
}

/**
 * x + o_proj(attention(rope(q), rope(k), v)) of RMSNorm(x), then + down_proj(silu(gate_proj(·)) ·
 * up_proj(·)) of RMSNorm(·), for x [b·t, width], as one native call each way: the kernels the
 * block's ops run one by one, in the same order. cos and sin [t, (1,) headDim/2] rotate positions
 * 0 … t − 1 (no KV cache); they are constants (no gradient). Gradients: x's and every weight's, or
 * with `lora` x's and the adapters'.
 */
export function nativeLlamaBlock(
  x: tf.Tensor,
  weights: LlamaBlockWeights,
  cos: tf.Tensor,
  sin: tf.Tensor,
  shape: LlamaBlockShape,
  lora?: LlamaBlockLora,
): tf.Tensor2D {
  const native = requireNative('Llama block');
  const adapters = lora?.adapters ?? [];
  if (weights.length !== LLAMA_BLOCK_WEIGHTS || (lora && adapters.length !== 2 * LLAMA_BLOCK_PROJECTIONS.length))
    throw new Error(`internal: a Llama block of ${weights.length} weights and ${adapters.length} adapter matrices`);
  const { b, t, heads, kvHeads, eps } = shape;
  const width = x.shape[1] as number;
  const headDim = (2 * cos.size) / t;
  const mlpWidth = weights[GATE]!.shape[0];
  const bf16 = lora !== undefined && heldAsBf16(weights[Q_WEIGHT]!);
  const dims = [
    b,
    t,
    heads,
    kvHeads,
    headDim,
    width,
    mlpWidth,
    eps,
    weights[Q_BIAS] ? 1 : 0,
    weights[Q_NORM] ? 1 : 0,
    lora?.rank ?? 0,
    lora?.scale ?? 0,
    bf16 ? 1 : 0,
  ] as const;
  const presentWeights = weights.filter((w): w is tf.Tensor => w !== undefined);
  const presentAdapters = adapters.filter((w): w is tf.Tensor => w !== undefined);
  const trained = lora ? presentAdapters : presentWeights;
  /** The slots of `all` (14 weights or 14 adapter matrices) from the offsets of the present ones, taken from `at`; -1 where none. */
  const slots = (all: Array<tf.Tensor | undefined>, at: number[]) => {
    let next = 0;
    return Array.from({ length: LLAMA_BLOCK_WEIGHTS }, (_, i) => (all[i] ? at[next++] : -1));
  };
  const none = slots([], []);
  // A size, not a kernel: asked of the addon itself, so a profiled step does not list it.
  const savedFloats = nativeAddon()!.llamaBlockSavedFloats(heap(), presentAdapters.length / 2, ...dims);
  const [w, a] = [presentWeights.length, presentAdapters.length];
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const inputs = args.slice(0, -1) as tf.Tensor[];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [y, saved] = callKernel([x, ...presentWeights, ...presentAdapters, cos, sin], [[b * t, width], [savedFloats]], 0, (_, at) =>
      native.llamaBlockForward(
        heap(),
        Float64Array.from([
          at[0],
          ...slots(weights, at.slice(1, 1 + w)),
          ...at.slice(1 + w + a, 5 + w + a), // cos, sin, y, saved
          ...slots(adapters, at.slice(1 + w, 1 + w + a)),
        ]),
        ...dims,
      ),
    );
    // The weights (the model's, alive all step) are read where they are. cos and sin are saved: the
    // forward's own tensors are gone by the backward pass (tf.grad tidies them).
    save([inputs[0], saved, cos, sin]);
    return {
      value: y as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, [sx, ssaved, scos, ssin]: tf.Tensor[]) =>
        callKernel(
          [sx, ...presentWeights, ...presentAdapters, scos, ssin, ssaved, dy],
          [sx.shape, ...trained.map((p) => p.shape)],
          0,
          (_, at) => {
            const grads = at.slice(6 + w + a);
            native.llamaBlockBackward(
              heap(),
              Float64Array.from([
                at[0],
                ...slots(weights, at.slice(1, 1 + w)),
                ...at.slice(1 + w + a, 6 + w + a), // cos, sin, saved, dy, dx
                ...(lora ? none : slots(weights, grads)),
                ...slots(adapters, at.slice(1 + w, 1 + w + a)),
                ...(lora ? slots(adapters, grads) : none),
              ]),
              ...dims,
            );
          },
        ),
    };
  }) as (...xs: tf.Tensor[]) => tf.Tensor2D;
  return f(x, ...trained);
}

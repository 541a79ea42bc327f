import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, requireNative } from './kernel-module';

/**
 * A GPT-2 block's weights in the native call's order: ln_1, attn.c_attn, attn.c_proj, ln_2,
 * mlp.c_fc, mlp.c_proj, weight then bias of each (native/gpt2-block.h).
 */
export type Gpt2BlockWeights = tf.Tensor[];

/** Floats the forward call keeps for the backward one (native/gpt2-block.cc savedFloats). */
function savedFloats(b: number, t: number, h: number, c: number): number {
  const n = b * t;
  return 4 * n + 15 * n * c + b * h * t * t;
}

/**
 * x + attention(ln_1(x)), then + mlp(ln_2(·)) for x [b·t, c] (pre-norm, GELU, LayerNorm eps 1e-5),
 * as one native call each way: the same kernels in the same order as the block's ops one by one.
 */
export function nativeGpt2Block(x: tf.Tensor, weights: Gpt2BlockWeights, b: number, t: number, h: number, eps = 1e-5): tf.Tensor2D {
  const native = requireNative('GPT-2 block');
  const c = x.shape[1] as number;
  const offsets = (ats: number[]) => Float64Array.from(ats);
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const inputs = args.slice(0, -1) as tf.Tensor[];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [y, saved] = callKernel(inputs, [[b * t, c], [savedFloats(b, t, h, c)]], 0, (_, at) =>
      native.gpt2BlockForward(heap(), offsets(at.slice(0, 15)), b, t, h, c, eps),
    );
    // The weights (the model's, alive all step) are read where they are: only x and the
    // activations are saved, and the backward pass frees them as soon as it is done with them.
    save([inputs[0], saved]);
    return {
      value: y as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, [sx, ssaved]: tf.Tensor[]) =>
        callKernel([sx, ...weights, ssaved, dy], [sx.shape, ...weights.map((w) => w.shape)], 0, (_, at) =>
          native.gpt2BlockBackward(heap(), offsets(at.slice(0, 28)), b, t, h, c, eps),
        ),
    };
  }) as (...xs: tf.Tensor[]) => tf.Tensor2D;
  return f(x, ...weights);
}

import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, kernelsAvailable, nativeKernels } from './kernel-module';

// Causal self-attention as one op (forward and backward in the kernels module), replacing ~40
// tfjs ops per layer whose batched matmuls run in the wasm backend's scalar loop.

/** Whether the fused kernel handles this shape: the wasm one works on whole SIMD vectors of time and head width, the native one on any. */
export function fusedAttentionSupported(time: number, headDim: number): boolean {
  return kernelsAvailable() && (nativeKernels() !== undefined || (time % 4 === 0 && headDim % 4 === 0));
}

/** Attention output [batch·time, width] (heads merged) from the c_attn projection qkv [batch·time, 3·width]. */
export function fusedCausalAttention(qkv: tf.Tensor2D, b: number, t: number, h: number): tf.Tensor2D {
  const c = qkv.shape[1] / 3;
  const d = c / h;
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [out, probs] = callKernel(
      [x],
      [
        [b * t, c],
        [b, h, t, t],
      ],
      4 * t * d + 2 * t,
      (k, [xAt, outAt, probsAt, scratch]) => k.attentionForward(xAt, outAt, probsAt, b, t, h, d, scratch),
    );
    save([x, probs]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, [sx, sprobs]: tf.Tensor[]) =>
        callKernel([sx, sprobs, dy], [[b * t, 3 * c]], 8 * t * d + 2 * t, (k, [xAt, probsAt, dyAt, dxAt, scratch]) =>
          k.attentionBackward(xAt, probsAt, dyAt, dxAt, b, t, h, d, scratch),
        ),
    };
  }) as (x: tf.Tensor2D) => tf.Tensor2D;
  return f(qkv);
}

import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, requireNative } from './kernel-module';

/**
 * Rotary positions (ops.ts rotary) as one native op each way: x [.., time, .., headDim] with cos,
 * sin [time, 1 …, headDim/2] broadcast from the right, as the tfjs op does (the model passes
 * [time, 1, headDim/2] for x [batch, time, heads, headDim]). The backward pass rotates back; cos
 * and sin are constants (no gradient).
 */
export function nativeRotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const native = requireNative('rotary positions');
  const half = cos.shape[cos.rank - 1];
  const timeAxis = x.rank - cos.rank;
  const t = cos.shape[0];
  if (x.shape[x.rank - 1] !== 2 * half || timeAxis < 0 || x.shape[timeAxis] !== t || cos.shape.slice(1, -1).some((n) => n !== 1))
    throw new Error(`internal: rotary of ${JSON.stringify(x.shape)} by cos ${JSON.stringify(cos.shape)}`);
  const inner = x.shape.slice(timeAxis + 1, -1).reduce((a, b) => a * b, 1);
  const rows = x.size / (2 * half);
  const rotate = (v: tf.Tensor, c: tf.Tensor, s: tf.Tensor, inverse: boolean) =>
    callKernel([v, c, s], [v.shape], 0, (_, [vAt, cosAt, sinAt, yAt]) =>
      native.rotary(heap(), vAt, cosAt, sinAt, yAt, rows, t, inner, half, inverse ? 1 : 0),
    )[0];
  // cos and sin are saved: the forward's own tensors are gone by the backward pass (tf.grad tidies them).
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([cos, sin]);
    return {
      value: rotate(xi, cos, sin, false),
      gradFunc: (dy: tf.Tensor, [scos, ssin]: tf.Tensor[]) => rotate(dy, scos, ssin, true),
    };
  }) as (x: tf.Tensor) => tf.Tensor;
  return f(x);
}

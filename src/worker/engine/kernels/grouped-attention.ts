import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, requireNative } from './kernel-module';

/**
 * Grouped-query causal attention as one native op each way: q [b·t, heads·d], k and v
 * [b·t, kvHeads·d] (rotated), scale 1/√d, query head j reading key/value head
 * floor(j / (heads / kvHeads)); the heads merged in [b·t, heads·d].
 */
export function nativeGroupedAttention(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  b: number,
  t: number,
  heads: number,
  kvHeads: number,
): tf.Tensor2D {
  const native = requireNative('grouped-query attention');
  const d = q.shape[1] / heads;
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [qi, ki, vi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const [out, probs] = callKernel(
      [qi, ki, vi],
      [
        [b * t, heads * d],
        [b, heads, t, t],
      ],
      0,
      (_, [qAt, kAt, vAt, outAt, probsAt]) =>
        native.groupedAttentionForward(heap(), qAt, kAt, vAt, outAt, probsAt, b, t, heads, kvHeads, d),
    );
    save([qi, ki, vi, probs]);
    return {
      value: out as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, [sq, sk, sv, sprobs]: tf.Tensor[]) =>
        callKernel([sq, sk, sv, sprobs, dy], [sq.shape, sk.shape, sv.shape], 0, (_, [qAt, kAt, vAt, pAt, dyAt, dqAt, dkAt, dvAt]) =>
          native.groupedAttentionBackward(heap(), qAt, kAt, vAt, pAt, dyAt, dqAt, dkAt, dvAt, b, t, heads, kvHeads, d),
        ),
    };
  }) as (q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D) => tf.Tensor2D;
  return f(q, k, v);
}

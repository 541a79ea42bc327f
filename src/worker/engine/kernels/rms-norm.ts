import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, requireNative } from './kernel-module';

/** RMSNorm of x over its last axis with weight [last], as one native op each way (ops.ts rmsNorm). */
export function nativeRmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const native = requireNative('RMSNorm');
  const cols = x.shape[x.shape.length - 1];
  const rows = x.size / cols;
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, rstd] = callKernel([xi, w], [xi.shape, [rows]], 0, (_, [xAt, wAt, yAt, rstdAt]) =>
      native.rmsNormForward(heap(), xAt, wAt, yAt, rstdAt, rows, cols, eps),
    );
    save([xi, w, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sx, sw, srstd]: tf.Tensor[]) =>
        callKernel([sx, sw, srstd, dy], [sx.shape, [cols]], 0, (_, [xAt, wAt, rstdAt, dyAt, dxAt, dwAt]) =>
          native.rmsNormBackward(heap(), xAt, wAt, rstdAt, dyAt, dxAt, dwAt, rows, cols),
        ),
    };
  }) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
  return f(x, weight);
}

import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel } from './kernel-module';

/** Layer norm of x [rows, cols] over its last axis with weight and bias [cols], as one op each way. */
export function fusedLayerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps = 1e-5): tf.Tensor {
  const cols = x.shape[x.shape.length - 1];
  const rows = x.size / cols;
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, rstd] = callKernel([xi, w, b], [xi.shape, [rows], [rows]], 0, (k, [xAt, wAt, bAt, yAt, meanAt, rstdAt]) =>
      k.layerNormForward(xAt, wAt, bAt, yAt, meanAt, rstdAt, rows, cols, eps),
    );
    save([xi, w, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sx, sw, smean, srstd]: tf.Tensor[]) =>
        callKernel([sx, sw, smean, srstd, dy], [sx.shape, [cols], [cols]], 0, (k, [xAt, wAt, meanAt, rstdAt, dyAt, dxAt, dwAt, dbAt]) =>
          k.layerNormBackward(xAt, wAt, meanAt, rstdAt, dyAt, dxAt, dwAt, dbAt, rows, cols),
        ),
    };
  }) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  return f(x, weight, bias);
}

import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel } from './kernel-module';

/** GELU (tanh approximation) as one op each way, from the kernels module. */
export const fusedGelu = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  const [y] = callKernel([x], [x.shape], 0, (k, [xAt, yAt]) => k.geluForward(xAt, yAt, x.size));
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) =>
      callKernel([sx, dy], [sx.shape], 0, (k, [xAt, dyAt, dxAt]) => k.geluBackward(xAt, dyAt, dxAt, sx.size)),
  };
}) as (x: tf.Tensor) => tf.Tensor;

import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, requireNative } from './kernel-module';

/** SwiGLU's gating silu(gate)·up (ops.ts swiglu) as one native pass each way. */
export function nativeSwiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  const native = requireNative('SwiGLU');
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [g, u, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([g, u]);
    const [y] = callKernel([g, u], [g.shape], 0, (_, [gAt, uAt, yAt]) => native.swigluForward(heap(), gAt, uAt, yAt, g.size));
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sg, su]: tf.Tensor[]) =>
        callKernel([sg, su, dy], [sg.shape, su.shape], 0, (_, [gAt, uAt, dyAt, dgAt, duAt]) =>
          native.swigluBackward(heap(), gAt, uAt, dyAt, dgAt, duAt, sg.size),
        ),
    };
  }) as (g: tf.Tensor, u: tf.Tensor) => tf.Tensor;
  return f(gate, up);
}

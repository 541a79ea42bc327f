import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, nativeKernels } from './kernel-module';

// Matmuls whose every product stays on XNNPACK's fast path (batch 1, no transposed operand):
// operands are transposed by our kernel (~10× faster than the backend's Transpose) and a linear
// layer's bias gradient is one column-sum pass instead of the backend's transpose-then-reduce.

/** xᵀ for a 2-D x, without a gradient (used inside gradients). */
export function transposed(x: tf.Tensor): tf.Tensor2D {
  const [rows, cols] = x.shape;
  const [t] = callKernel([x], [[cols, rows]], 0, (k, [xAt, tAt]) => k.transpose2d(xAt, tAt, rows, cols));
  return t as tf.Tensor2D;
}

function columnSums(x: tf.Tensor): tf.Tensor1D {
  const [rows, cols] = x.shape;
  const [s] = callKernel([x], [[cols]], 0, (k, [xAt, sAt]) => k.columnSums(xAt, sAt, rows, cols));
  return s as tf.Tensor1D;
}

/**
 * x·W + b for x [n, in], W [in, out], b [out]: XNNPACK's matmul with the bias fused in, or on the
 * native engine one BLAS call each way (the backward pass's three products in one call).
 */
export const fusedLinear = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  const native = nativeKernels();
  const [n, inputs] = x.shape;
  const outputs = w.shape[1];
  return {
    value: native
      ? (callKernel([x, w, b], [[n, outputs]], 0, (_, [xAt, wAt, bAt, yAt]) =>
          native.linearForward(heap(), xAt, wAt, bAt, yAt, n, inputs, outputs),
        )[0] as tf.Tensor2D)
      : tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) =>
      native
        ? callKernel([sx, sw, dy], [[n, inputs], [inputs, outputs], [outputs]], 0, (_, [xAt, wAt, dyAt, dxAt, dwAt, dbAt]) =>
            native.linearBackward(heap(), xAt, wAt, dyAt, dxAt, dwAt, dbAt, n, inputs, outputs),
          )
        : [tf.matMul(dy, transposed(sw)), tf.matMul(transposed(sx), dy), columnSums(dy)],
  };
}) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/** x·Wᵀ for x [n, in], W [out, in] (the output head tied to the token embedding). */
export const matMulTransposedB = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  // BLAS takes transposed operands as they are; XNNPACK needs them transposed first.
  if (nativeKernels()) {
    return {
      value: tf.matMul(x, w, false, true),
      gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [tf.matMul(dy, sw), tf.matMul(dy, sx, true, false)],
    };
  }
  return {
    value: tf.matMul(x, transposed(w)),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [tf.matMul(dy, sw), tf.matMul(transposed(dy), sx)],
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor2D;

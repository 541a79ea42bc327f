import { tf } from '../backend';
import { bf16Shape, heldAsBf16 } from './bf16-matrix';
import { callKernel, heap, nativeKernels } from './kernel-module';

/** What one call of the fused head and cross-entropy gives: the mean loss and the gradients asked for. */
export interface LinearCrossEntropy {
  loss: tf.Scalar;
  dx?: tf.Tensor2D;
  dw?: tf.Tensor2D;
}

/**
 * The mean cross-entropy of x [n, width]·Wᵀ against targets [n] (negative targets ignored, as
 * ops.ts crossEntropy) for the head W [vocab, width] (float32, or held as BF16), with the
 * gradients of that mean for x and, for a float32 head, for W, in one native call (native/linear-
 * cross-entropy.h): at most `rows` rows' logits at a time, no [vocab, width] temporaries. Off the
 * tape. Undefined when the native engine is not running.
 */
export function nativeLinearCrossEntropy(
  x: tf.Tensor2D,
  w: tf.Tensor,
  targets: tf.Tensor1D,
  rows: number,
  want: { dx: boolean; dw: boolean },
): LinearCrossEntropy | undefined {
  const native = nativeKernels();
  if (!native) return undefined;
  const bf16 = heldAsBf16(w);
  const [vocab] = bf16 ? bf16Shape(w) : w.shape;
  const [n, width] = x.shape;
  const dw = want.dw && !bf16;
  const outputs = [[], ...(want.dx ? [[n, width]] : []), ...(dw ? [[vocab, width]] : [])];
  const made = callKernel([x, w, targets], outputs, 0, (_, at) => {
    const [dxAt, dwAt] = [want.dx ? at[4] : -1, dw ? at[want.dx ? 5 : 4] : -1];
    native.linearCrossEntropy(heap(), at[0], at[1], bf16 ? 1 : 0, at[2], at[3], dxAt, dwAt, n, width, vocab, rows);
  });
  const [loss, ...gradients] = made;
  return {
    loss: loss as tf.Scalar,
    dx: want.dx ? (gradients.shift() as tf.Tensor2D) : undefined,
    dw: dw ? (gradients.shift() as tf.Tensor2D) : undefined,
  };
}

import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, heapOffset, requireNative } from './kernel-module';

/** A LoRA layer's frozen base: its product (a new [n, out] tensor) and its input's gradient (a new [n, in] tensor). */
export interface FrozenProduct {
  forward(x: tf.Tensor2D): tf.Tensor;
  inputGradient(dy: tf.Tensor): tf.Tensor;
}

/**
 * y = base(x) + scale·(x·Aᵀ)·Bᵀ for x [n, in], A [r, in], B [out, r] on the native engine: the
 * adapter's product is added into the base's output in place (BLAS with beta 1), and in the
 * backward pass into the input's gradient, so the layer keeps one [n, out] tensor where tfjs ops
 * kept three (the base's, the adapter's and their sum) and the only other one is x·Aᵀ [n, r].
 * Gradients: x's, A's and B's (the base is frozen).
 */
export function nativeLoraLinear(x: tf.Tensor2D, base: FrozenProduct, a: tf.Tensor, b: tf.Tensor, scale: number): tf.Tensor2D {
  const native = requireNative('LoRA linear');
  const [n, inputs] = x.shape;
  const [r, outputs] = [a.shape[0], b.shape[0]];
  const at = heapOffset;
  /** A new [rows, cols] tensor: alpha·op(p)·op(q), p and q row-major (ta/tb: transposed). */
  const product = (p: tf.Tensor, ta: number, q: tf.Tensor, tb: number, rows: number, cols: number, inner: number, alpha: number) =>
    callKernel([p, q], [[rows, cols]], 0, (_, [pAt, qAt, outAt]) =>
      native.gemm(heap(), ta, tb, rows, cols, inner, alpha, pAt, ta ? rows : inner, qAt, tb ? inner : cols, 0, outAt, cols),
    )[0];
  /** into += alpha·p·op(q), in place. */
  const addProduct = (into: tf.Tensor, p: tf.Tensor, q: tf.Tensor, tb: number, rows: number, cols: number, inner: number, alpha: number) =>
    native.gemm(heap(), 0, tb, rows, cols, inner, alpha, at(p), inner, at(q), tb ? inner : cols, 1, at(into), cols);
  return freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, a, b, save] = args as [tf.Tensor2D, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const y = base.forward(x);
    const down = product(x, 0, a, 1, n, r, inputs, 1);
    addProduct(y, down, b, 1, n, outputs, r, scale);
    save([x, a, b, down]);
    return {
      value: y as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, [sx, sa, sb, sdown]: tf.Tensor[]) => {
        const up = product(dy, 0, sb, 0, n, r, outputs, 1);
        const dx = base.inputGradient(dy);
        addProduct(dx, up, sa, 0, n, inputs, r, scale);
        const da = product(up, 1, sx, 0, r, inputs, n, scale);
        const db = product(dy, 1, sdown, 0, outputs, r, n, scale);
        up.dispose();
        return [dx, da, db];
      },
    };
  })(x, a, b) as tf.Tensor2D;
}

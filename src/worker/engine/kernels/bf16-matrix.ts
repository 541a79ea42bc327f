import { tf } from '../backend';
import { HostTensor } from '../../../core/tensor';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, requireNative } from './kernel-module';

// A frozen matrix held as BF16 on the native engine (half the memory of float32): an int32 tensor
// [rows, cols / 2] whose bytes are the BF16 values in pairs, read by the addon's BF16 kernels
// (native/bf16.h). No trained weight is int32, so the dtype says which matrices these are.

/** Whether `w` is a matrix held as BF16 (see bf16Matrix). */
export const heldAsBf16 = (w: tf.Tensor): boolean => w.dtype === 'int32';

/** Whether every value of `t` is a BF16 value (read as BF16, or a float32 whose low 16 bits are zero): held as BF16, it loses nothing. */
export function isBf16Exact(t: HostTensor): boolean {
  if (t.shape.length !== 2 || t.shape[1] % 2 !== 0) return false;
  if (t.bf16) return true;
  const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0xffff) !== 0) return false;
  return true;
}

/** The matrix [rows, cols] (its values BF16-exact: isBf16Exact) as BF16 pairs in an int32 tensor [rows, cols / 2]. */
export function bf16Matrix(t: HostTensor): tf.Tensor2D {
  const [rows, cols] = t.shape;
  // Bits as read are already the pairs (little-endian): the engine copies them as they are.
  if (t.bf16) return tf.tensor2d(bf16Pairs(t.bf16), [rows, cols / 2], 'int32');
  const words = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
  const pairs = new Int32Array((rows * cols) / 2);
  // Little-endian: the first value of a pair is the low half of its int32.
  for (let i = 0; i < pairs.length; i++) pairs[i] = (words[2 * i] >>> 16) | (words[2 * i + 1] & 0xffff0000);
  return tf.tensor2d(pairs, [rows, cols / 2], 'int32');
}

/** BF16 bits two to an int32 (a view where they lie on a 4-byte boundary, else a copy). */
function bf16Pairs(bits: Uint16Array): Int32Array {
  const aligned = bits.byteOffset % 4 === 0 ? bits : bits.slice();
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}

/** [rows, cols] of a matrix held as BF16. */
export const bf16Shape = (w: tf.Tensor): [number, number] => [w.shape[0], 2 * w.shape[1]!];

/** dy·W [n, in] for dy [n, out] and W [out, in] held as BF16: the input's gradient of x·Wᵀ. */
export function bf16MatMul(dy: tf.Tensor, w: tf.Tensor): tf.Tensor2D {
  const native = requireNative('BF16 matmul');
  const [out, inputs] = bf16Shape(w);
  const n = dy.size / out;
  const [dx] = callKernel([dy, w], [[n, inputs]], 0, (_, [dyAt, wAt, dxAt]) => native.bf16MatMul(heap(), dyAt, wAt, dxAt, n, inputs, out));
  return dx as tf.Tensor2D;
}

/**
 * x·Wᵀ [n, out] for x [n, in] and W [out, in] held as BF16 (nn.Linear, the head). W is frozen:
 * the gradient is x's alone, dy·W.
 */
export function bf16MatMulTransposedB(x: tf.Tensor, w: tf.Tensor): tf.Tensor2D {
  const native = requireNative('BF16 matmul');
  const [out, inputs] = bf16Shape(w);
  const n = x.size / inputs;
  return freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [y] = callKernel([args[0] as tf.Tensor, w], [[n, out]], 0, (_, [xAt, wAt, yAt]) =>
      native.bf16MatMulTransposedB(heap(), xAt, wAt, yAt, n, inputs, out),
    );
    return { value: y as tf.Tensor2D, gradFunc: (dy: tf.Tensor) => bf16MatMul(dy, w) };
  })(x) as tf.Tensor2D;
}

/** Rows `ids` of an embedding table held as BF16, widened: [ids, width]. */
export function bf16Embedding(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  const native = requireNative('BF16 embedding');
  const [vocab, c] = bf16Shape(table);
  const n = ids.size;
  const [rows] = callKernel([table, ids], [[n, c]], 0, (_, [tAt, idsAt, outAt]) =>
    native.bf16Embedding(heap(), tAt, idsAt, outAt, n, vocab, c),
  );
  return rows as tf.Tensor2D;
}

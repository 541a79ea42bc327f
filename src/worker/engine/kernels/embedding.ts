import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, nativeKernels } from './kernel-module';

/**
 * Rows of `table` [vocab, c] picked by `ids` [n], gradient by scatter-add: one pass each way on the
 * native engine where the tfjs-op gradient builds a one-hot [n, vocab] and multiplies it (~40
 * GFLOP and ~100 MB a step at a GPT-2 vocabulary). Undefined when the native engine is not running.
 */
export function nativeEmbedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D | undefined {
  const native = nativeKernels();
  if (!native) return undefined;
  const [vocab, c] = table.shape;
  const n = ids.size;
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [t, i, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([i]);
    const [out] = callKernel([t, i], [[n, c]], 0, (_, [tAt, iAt, outAt]) => native.embeddingForward(heap(), tAt, iAt, outAt, n, vocab, c));
    return {
      value: out as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, [si]: tf.Tensor[]) => [
        callKernel([si, dy], [[vocab, c]], 0, (_, [iAt, dyAt, dtAt]) => native.embeddingBackward(heap(), iAt, dyAt, dtAt, n, vocab, c))[0],
        tf.zerosLike(si),
      ],
    };
  }) as (t: tf.Tensor2D, i: tf.Tensor1D) => tf.Tensor2D;
  return f(table, ids.dtype === 'int32' ? ids : (tf.cast(ids, 'int32') as tf.Tensor1D));
}

interface RefCounting {
  refCount(dataId: object): number;
}

/**
 * dTable [vocab, c] += the scatter of dy [n, c] by ids [n], written into dTable's own memory; the
 * same numbers as adding the scattered table. False (nothing done) when the native engine is not
 * running or another tensor shares dTable's data.
 */
export function nativeAddEmbeddingGradient(dTable: tf.Tensor2D, ids: tf.Tensor1D, dy: tf.Tensor2D): boolean {
  const native = nativeKernels();
  if (!native || ids.dtype !== 'int32' || (tf.backend() as unknown as RefCounting).refCount(dTable.dataId) !== 1) return false;
  const [vocab, c] = dTable.shape;
  callKernel([ids, dy, dTable], [], 0, (_, [iAt, dyAt, dtAt]) => native.embeddingBackwardAdd(heap(), iAt, dyAt, dtAt, ids.size, vocab, c));
  return true;
}

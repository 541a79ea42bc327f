import { tf } from '../backend';
import { freeingCustomGrad } from '../freeing-custom-grad';
import { callKernel, heap, nativeKernels } from './kernel-module';

/**
 * Mean next-token cross-entropy of logits [n, vocab] against targets [n] (negative targets
 * ignored, as ops.ts crossEntropy) in one native pass each way: no log-softmax, one-hot or product tensors of the logits' size (each ~100 MB at a GPT-2
 * vocabulary and 512 tokens). Undefined when the native engine is not running.
 */
export function nativeCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar | undefined {
  const native = nativeKernels();
  if (!native) return undefined;
  const [n, vocab] = logits.shape;
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, ids, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const [loss, lse] = callKernel([x, ids], [[], [n]], 0, (_, [xAt, idsAt, lossAt, lseAt]) =>
      native.crossEntropyForward(heap(), xAt, idsAt, lseAt, lossAt, n, vocab),
    );
    save([x, ids, lse]);
    return {
      value: loss as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [sx, sids, slse]: tf.Tensor[]) => [
        callKernel([sx, sids, slse, dy], [[n, vocab]], 0, (_, [xAt, idsAt, lseAt, dyAt, dxAt]) =>
          native.crossEntropyBackward(heap(), xAt, idsAt, lseAt, dyAt, dxAt, n, vocab),
        )[0],
        tf.zerosLike(sids),
      ],
    };
  }) as (x: tf.Tensor2D, ids: tf.Tensor1D) => tf.Scalar;
  return f(logits, targets.dtype === 'int32' ? targets : (tf.cast(targets, 'int32') as tf.Tensor1D));
}

/**
 * dy times the gradient of nativeCrossEntropy's mean with respect to the logits, off the tape (for
 * use inside another op's backward pass, where tfjs cannot nest tf.grad). Undefined when the native
 * engine is not running.
 */
export function nativeCrossEntropyGradient(logits: tf.Tensor2D, targets: tf.Tensor1D, dy: tf.Scalar): tf.Tensor2D | undefined {
  const both = nativeCrossEntropyAndGradient(logits, targets, dy);
  both?.[0].dispose();
  return both?.[1];
}

/** nativeCrossEntropy's mean and dy times its gradient, off the tape, from one pass's log-sum-exps. */
export function nativeCrossEntropyAndGradient(
  logits: tf.Tensor2D,
  targets: tf.Tensor1D,
  dy: tf.Scalar,
): [tf.Scalar, tf.Tensor2D] | undefined {
  const native = nativeKernels();
  if (!native) return undefined;
  const [n, vocab] = logits.shape;
  const [loss, lse] = callKernel([logits, targets], [[], [n]], 0, (_, [xAt, idsAt, lossAt, lseAt]) =>
    native.crossEntropyForward(heap(), xAt, idsAt, lseAt, lossAt, n, vocab),
  );
  const [gradient] = callKernel([logits, targets, lse, dy], [[n, vocab]], 0, (_, [xAt, idsAt, lseAt, dyAt, dxAt]) =>
    native.crossEntropyBackward(heap(), xAt, idsAt, lseAt, dyAt, dxAt, n, vocab),
  );
  lse.dispose();
  return [loss as tf.Scalar, gradient as tf.Tensor2D];
}

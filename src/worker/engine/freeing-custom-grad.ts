import * as tf from '@tensorflow/tfjs-core';

type CustomGradientFunc<T extends tf.Tensor> = (...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
  value: T;
  gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
};

/**
 * tf.customGrad whose backward frees what it is done with: the tensors saved for it, the incoming
 * gradient and the gradient function's intermediates. tfjs keeps all three until the whole
 * backward pass ends (tape.ts backpropagateGradients, engine.ts gradients), so at the end of a
 * GPT-2-sized step every activation and every activation gradient was still on the heap. Each op's
 * output feeds ops that come later in the forward pass, whose gradients are computed before this
 * one's, so its incoming gradient is not read again. Tensors sharing data (reshapes) keep it alive
 * through the backend's reference count.
 */
export function freeingCustomGrad<T extends tf.Tensor>(f: CustomGradientFunc<T>): (...args: tf.Tensor[]) => T {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const { value, gradFunc } = f(...args);
    return {
      value,
      gradFunc: (dy: T, saved: tf.Tensor[]) => {
        const grads = tf.tidy(() => gradFunc(dy, saved));
        const returned = new Set<tf.Tensor>(Array.isArray(grads) ? grads : [grads]);
        for (const t of [...saved, dy]) if (!returned.has(t)) t.dispose();
        return grads;
      },
    };
  }) as (...args: tf.Tensor[]) => T;
}

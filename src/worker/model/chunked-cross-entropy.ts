import { tf } from '../engine/backend';
import { freeingCustomGrad } from '../engine/freeing-custom-grad';
import { crossEntropy, crossEntropyGradient, matMul } from './ops';

/** The output head as the chunked loss reads it: W [vocab, width] (fp32, or held as BF16 on native). */
export interface HeadMatrix {
  weight: tf.Tensor;
  vocab: number;
  /** A variable's: its [vocab, width] gradient is made. A frozen head (LoRA) gets none. */
  trainable: boolean;
  /** x·Wᵀ: logits [rows, vocab]. */
  logits(x: tf.Tensor2D, w: tf.Tensor): tf.Tensor2D;
  /** dy·W: the input's gradient [rows, width]. */
  inputGradient(dy: tf.Tensor2D, w: tf.Tensor): tf.Tensor2D;
}

/**
 * Logits of a chunk kept near 8 M floats (32 MB; Qwen2.5's 151,936 vocabulary: 55 rows): smaller
 * chunks read the whole head matrix more often. Tests lower it to see chunks at small shapes.
 */
export const lossChunk = { floats: 8 * 1024 * 1024 };

export function lossChunkRows(vocab: number): number {
  return Math.max(1, Math.floor(lossChunk.floats / vocab));
}

/**
 * The head and mean cross-entropy of hidden states [n, width] against targets [n] (negative targets
 * ignored, as ops.ts crossEntropy), a chunk of rows at a time each way, as Liger-Kernel's fused
 * linear cross-entropy: the whole [n, vocab] logits and their gradient are never held. The backward
 * pass recomputes each chunk's logits rather than keeping them.
 */
export function chunkedHeadCrossEntropy(
  hidden: tf.Tensor2D,
  targets: tf.Tensor1D,
  head: HeadMatrix,
  rows = lossChunkRows(head.vocab),
): tf.Scalar {
  const n = hidden.shape[0];
  const chunks = Array.from({ length: Math.ceil(n / rows) }, (_, i) => [i * rows, Math.min(rows, n - i * rows)]);
  const trainedIn = (t: tf.Tensor) => tf.sum(tf.cast(tf.greaterEqual(t, 0), 'float32'));
  const f = freeingCustomGrad<tf.Scalar>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor2D;
    const t = args[1] as tf.Tensor1D;
    const w = head.trainable ? (args[2] as tf.Tensor) : head.weight;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const piece = (z: tf.Tensor, [start, size]: number[]) => tf.slice(z, [start, 0], [size, -1]) as tf.Tensor2D;
    const ids = (start: number, size: number) => tf.slice(t, [start], [size]) as tf.Tensor1D;
    let sum: tf.Tensor = tf.scalar(0);
    for (const [start, size] of chunks) {
      const before = sum;
      sum = tf.tidy(() => {
        const tc = ids(start, size);
        return tf.add(before, tf.mul(crossEntropy(head.logits(piece(x, [start, size]), w), tc), trainedIn(tc)));
      });
      before.dispose();
    }
    const value = tf.tidy(() => tf.div(sum, tf.maximum(trainedIn(t), 1)) as tf.Scalar);
    sum.dispose();
    save([x, t]);
    return {
      value,
      gradFunc: (dy: tf.Scalar, [sx, st]: tf.Tensor[]) => {
        const scale = tf.div(dy, tf.maximum(trainedIn(st), 1));
        const dx: tf.Tensor[] = [];
        let dw: tf.Tensor | undefined;
        for (const [start, size] of chunks) {
          const before = dw;
          const [dxc, dwc] = tf.tidy(() => {
            const xc = piece(sx, [start, size]);
            const tc = ids(start, size);
            // The gradient is of the chunk's mean; the whole loss weighs the chunk by its trained tokens.
            const g = crossEntropyGradient(head.logits(xc, w), tc, tf.mul(scale, trainedIn(tc)) as tf.Scalar);
            if (!head.trainable) return [head.inputGradient(g, w)];
            const part = matMul(tf.transpose(g), xc);
            return [head.inputGradient(g, w), before ? tf.add(before, part) : part];
          });
          before?.dispose();
          dx.push(dxc);
          dw = dwc;
        }
        const grads = [tf.concat(dx, 0), tf.zerosLike(st)];
        return head.trainable ? [...grads, dw!] : grads;
      },
    };
  });
  const ids = targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32');
  return head.trainable ? f(hidden, ids, head.weight) : f(hidden, ids);
}

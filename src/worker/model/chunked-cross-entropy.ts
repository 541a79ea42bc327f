import { tf } from '../engine/backend';
import { freeingCustomGrad } from '../engine/freeing-custom-grad';
import { LinearCrossEntropy, nativeLinearCrossEntropy } from '../engine/kernels/linear-cross-entropy';
import { crossEntropy, crossEntropyAndGradient, matMul } from './ops';
import { lossChunkRows } from '../../core/loss-chunk';

/** The output head as the chunked loss reads it: W [vocab, width] (fp32, or held as BF16 on native). */
export interface HeadMatrix {
  weight: tf.Tensor;
  vocab: number;
  /** A variable's: its [vocab, width] gradient is made. A frozen head (LoRA) gets none. */
  trainable: boolean;
  /** x·Wᵀ: logits [rows, vocab] (the tfjs engines'; the native engine fuses the head and loss in one call). */
  logits(x: tf.Tensor2D, w: tf.Tensor): tf.Tensor2D;
  /** dy·W: the input's gradient [rows, width]. */
  inputGradient(dy: tf.Tensor2D, w: tf.Tensor): tf.Tensor2D;
}

export { lossChunk, lossChunkRows } from '../../core/loss-chunk';

/** Whether a gradient is being taken (inside tf.grads and the like): tfjs-core's engine counts their depth. */
function gradientBeingTaken(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/**
 * The head and mean cross-entropy of hidden states [n, width] against targets [n] (negative targets
 * ignored, as ops.ts crossEntropy), a chunk of rows at a time, as Liger-Kernel's fused linear
 * cross-entropy: the whole [n, vocab] logits and their gradient are never held. When a gradient is
 * being taken, each chunk's gradients (the input's, and a trainable head's) are computed in the
 * forward pass while its logits exist, so no logits are computed twice; the backward pass only
 * scales them by the incoming gradient. On the native engine all of it is one call.
 */
export function chunkedHeadCrossEntropy(
  hidden: tf.Tensor2D,
  targets: tf.Tensor1D,
  head: HeadMatrix,
  rows = lossChunkRows(head.vocab),
): tf.Scalar {
  const withGradients = gradientBeingTaken();
  const f = freeingCustomGrad<tf.Scalar>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor2D;
    const t = args[1] as tf.Tensor1D;
    const w = head.trainable ? (args[2] as tf.Tensor) : head.weight;
    const want = { dx: withGradients, dw: withGradients && head.trainable };
    const { loss, dx, dw } = nativeLinearCrossEntropy(x, w, t, rows, want) ?? chunksOnTfjs(x, t, w, head, rows, withGradients);
    // Made inside the forward pass's scope: kept for the backward pass, which frees them.
    if (dx) tf.keep(dx);
    if (dw) tf.keep(dw);
    return {
      value: loss,
      gradFunc: (dy: tf.Scalar) => {
        if (!dx) throw new Error('internal: the chunked loss was differentiated without its gradients computed');
        // The gradients are the mean's: an incoming 1 (the loss itself) needs no pass over
        // [vocab, width]. A clone (sharing the data) is handed over, not the kept tensor itself:
        // tfjs frees the gradients it adds up only when its own scope made them.
        const one = dy.dataSync()[0] === 1;
        const scaled = (g: tf.Tensor) => (one ? tf.clone(g) : tf.mul(g, dy));
        const grads = [scaled(dx), tf.zeros([hidden.shape[0]], 'int32')];
        const all = head.trainable ? [...grads, scaled(dw!)] : grads;
        tf.dispose([dx, dw]);
        return all;
      },
    };
  });
  const ids = targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32');
  return head.trainable ? f(hidden, ids, head.weight) : f(hidden, ids);
}

/** The chunks on the tfjs engines: each chunk's logits, loss and (with `withGradients`) gradients as tfjs ops. */
function chunksOnTfjs(
  x: tf.Tensor2D,
  t: tf.Tensor1D,
  w: tf.Tensor,
  head: HeadMatrix,
  rows: number,
  withGradients: boolean,
): LinearCrossEntropy {
  const n = x.shape[0];
  const chunks = Array.from({ length: Math.ceil(n / rows) }, (_, i) => [i * rows, Math.min(rows, n - i * rows)]);
  const trainedIn = (v: tf.Tensor) => tf.sum(tf.cast(tf.greaterEqual(v, 0), 'float32'));
  const trained = tf.maximum(trainedIn(t), 1);
  let loss: tf.Tensor = tf.scalar(0);
  const dx: tf.Tensor[] = [];
  let dw: tf.Tensor | undefined;
  for (const [start, size] of chunks) {
    const [lossBefore, dwBefore] = [loss, dw];
    const kept = tf.tidy(() => {
      const xc = tf.slice(x, [start, 0], [size, -1]) as tf.Tensor2D;
      const tc = tf.slice(t, [start], [size]) as tf.Tensor1D;
      const logits = head.logits(xc, w);
      // The chunk's mean weighs in the whole loss by its share of the trained tokens.
      const share = tf.div(trainedIn(tc), trained) as tf.Scalar;
      if (!withGradients) return [tf.add(lossBefore, tf.mul(crossEntropy(logits, tc), share))];
      const [chunkLoss, g] = crossEntropyAndGradient(logits, tc, share);
      const out = [tf.add(lossBefore, tf.mul(chunkLoss, share)), head.inputGradient(g, w)];
      if (!head.trainable) return out;
      const part = matMul(tf.transpose(g), xc);
      return [...out, dwBefore ? tf.add(dwBefore, part) : part];
    });
    tf.dispose([lossBefore, dwBefore]);
    [loss] = kept;
    if (kept[1]) dx.push(kept[1]);
    dw = kept[2];
  }
  trained.dispose();
  const dHidden = dx.length > 0 ? (tf.concat(dx, 0) as tf.Tensor2D) : undefined;
  tf.dispose(dx);
  return { loss: loss as tf.Scalar, dx: dHidden, dw: dw as tf.Tensor2D | undefined };
}

import { tf } from '../engine/backend';
import { freeingCustomGrad } from '../engine/freeing-custom-grad';
import { nativeCrossEntropy, nativeCrossEntropyAndGradient, nativeCrossEntropyGradient } from '../engine/kernels/cross-entropy';
import { nativeAddEmbeddingGradient, nativeEmbedding } from '../engine/kernels/embedding';

// The wasm backend sends a matmul to XNNPACK only when neither operand is transposed (and, for
// 2-D, batch 1); tfjs's stock matmul gradient passes transposed operands and falls to a ~2 GFLOP/s
// scalar loop. These gradients transpose explicitly first (docs/tfjs-notes.md: 4.9× faster per step).

/** a·b for a [.., m, k] and b [.., k, n] (same batch dims), with gradients that stay on the fast path. */
export const matMul = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [tf.matMul(dy, swapLastTwo(sb)), tf.matMul(swapLastTwo(sa), dy)];
    },
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

export function swapLastTwo(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(x, perm);
}

/**
 * Rows of `table` picked by `ids`. The wasm backend has no UnsortedSegmentSum, so gather's stock
 * gradient fails there; the gradient here is onehot(ids)ᵀ · dy, a plain matmul.
 */
export function embed(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const native = nativeEmbedding(table, ids);
  if (native) return native;
  const f = freeingCustomGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const t = args[0] as tf.Tensor;
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: tf.Tensor) => [scatteredRows(ids, dy, table.shape[0])],
    };
  }) as (t: tf.Tensor) => tf.Tensor2D;
  return f(table);
}

/** The table-shaped [vocab, c] sum of dy's rows [n, c] at their ids (the lookup's gradient). */
function scatteredRows(ids: tf.Tensor1D, dy: tf.Tensor, vocab: number): tf.Tensor2D {
  const oneHotT = tf.transpose(tf.cast(tf.oneHot(ids, vocab), 'float32'));
  return tf.matMul(oneHotT, dy) as tf.Tensor2D;
}

/**
 * dTable + the lookup's gradient for dy [n, c] at `ids`: in place on the native engine (dTable is
 * then returned, no second or third [vocab, c] tensor), else a new tensor (dTable is disposed).
 */
export function addEmbeddingGradient(dTable: tf.Tensor2D, ids: tf.Tensor1D, dy: tf.Tensor2D): tf.Tensor2D {
  if (nativeAddEmbeddingGradient(dTable, ids, dy)) return dTable;
  const sum = tf.tidy(() => tf.add(dTable, scatteredRows(ids, dy, dTable.shape[0])) as tf.Tensor2D);
  dTable.dispose();
  return sum;
}

/** GELU, tanh approximation (GPT-2's "gelu_new"). */
export function gelu(x: tf.Tensor): tf.Tensor {
  const c = Math.sqrt(2 / Math.PI);
  // x·x·x: Pow is several times slower than two multiplies on the wasm backend.
  const inner = tf.mul(c, tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** Dynamic Tanh (Zhu et al. 2025): γ·tanh(α·x) + β, a drop-in for layer norm. */
export function dynamicTanh(x: tf.Tensor, alpha: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(tf.tanh(tf.mul(alpha, x)), weight), bias);
}

/**
 * Mean next-token cross-entropy of logits [n, vocab] against integer targets [n], over the targets
 * that are not IGNORED (-100, TRL's label for a masked token): those add no loss and no gradient.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const fused = nativeCrossEntropy(logits, targets);
  if (fused) return fused;
  const trained = tf.cast(tf.greaterEqual(targets, 0), 'float32');
  const oneHot = tf.mul(
    tf.cast(tf.oneHot(tf.maximum(targets, tf.scalar(0, 'int32')), logits.shape[1]), 'float32'),
    tf.expandDims(trained, -1),
  );
  const picked = tf.sum(tf.mul(tf.logSoftmax(logits), oneHot));
  return tf.neg(tf.div(picked, tf.maximum(tf.sum(trained), 1))) as tf.Scalar;
}

/** dy times crossEntropy's gradient with respect to the logits, off the tape (inside another op's backward pass). */
export function crossEntropyGradient(logits: tf.Tensor2D, targets: tf.Tensor1D, dy: tf.Scalar): tf.Tensor2D {
  const fused = nativeCrossEntropyGradient(logits, targets, dy);
  if (fused) return fused;
  const trained = tf.cast(tf.greaterEqual(targets, 0), 'float32');
  const oneHot = tf.cast(tf.oneHot(tf.maximum(targets, tf.scalar(0, 'int32')), logits.shape[1]), 'float32');
  const perRow = tf.div(tf.mul(trained, dy), tf.maximum(tf.sum(trained), 1));
  return tf.mul(tf.sub(tf.softmax(logits), oneHot), tf.expandDims(perRow, -1)) as tf.Tensor2D;
}

/** crossEntropy and crossEntropyGradient of the same logits, off the tape (native: one pass's log-sum-exps serve both). */
export function crossEntropyAndGradient(logits: tf.Tensor2D, targets: tf.Tensor1D, dy: tf.Scalar): [tf.Scalar, tf.Tensor2D] {
  return nativeCrossEntropyAndGradient(logits, targets, dy) ?? [crossEntropy(logits, targets), crossEntropyGradient(logits, targets, dy)];
}

/** RMSNorm (Zhang & Sennrich 2019): x / √(mean(x²) + eps) · weight, over the last axis. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.mul(x, x), -1, true), eps))), weight);
}

/**
 * Rotary positions (core/rope.ts) on x [.., time, headDim] with cos, sin [time, headDim/2]: the
 * halves (x1, x2) become (x1·cos − x2·sin, x2·cos + x1·sin).
 */
export function rotary(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor {
  const [x1, x2] = tf.split(x, 2, -1);
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], -1);
}

/** SwiGLU's gating (Shazeer 2020): silu(gate) · up, silu(x) = x·σ(x). */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

import { tf } from '../engine/backend';
import { Rng } from '../../core/rng';

/**
 * A random matrix [rows, cols] of BF16 values held as BF16 (kernels/bf16-matrix.ts), uniform with
 * standard deviation `std`, made without a float32 copy of it: a benchmark's frozen base as a
 * BF16 folder's would be held (the values matter little there, only their shape and dtype).
 */
export function randomBf16Matrix(rows: number, cols: number, std: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  const bound = std * Math.sqrt(3);
  const value = new Float32Array(1);
  const bits = new Uint32Array(value.buffer);
  const half = () => {
    value[0] = (2 * rng.next() - 1) * bound;
    return bits[0] >>> 16;
  };
  const pairs = new Int32Array((rows * cols) / 2);
  // Little-endian: the first value of a pair is the low half of its int32.
  for (let i = 0; i < pairs.length; i++) pairs[i] = half() | (half() << 16);
  return tf.tensor2d(pairs, [rows, cols / 2], 'int32');
}

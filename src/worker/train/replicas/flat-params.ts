import { tf } from '../../engine/backend';
import { heapFloats } from '../../engine/kernels/kernel-module';

/** Where each named tensor lives in one flat float32 buffer. */
export class FlatLayout {
  readonly offsets: number[] = [];
  readonly sizes: number[] = [];
  readonly total: number;

  constructor(
    readonly names: string[],
    readonly shapes: number[][],
  ) {
    let at = 0;
    for (const shape of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      this.offsets.push(at);
      this.sizes.push(size);
      at += size;
    }
    this.total = at;
  }

  static of(tensors: Map<string, tf.Tensor>): FlatLayout {
    return new FlatLayout(
      [...tensors.keys()],
      [...tensors.values()].map((t) => t.shape.slice()),
    );
  }

  view(buffer: Float32Array, i: number): Float32Array {
    return buffer.subarray(this.offsets[i], this.offsets[i] + this.sizes[i]);
  }
}

/** Copies a float32 tensor's values into `dst` (straight from the wasm heap when it is there). */
export function copyOut(t: tf.Tensor, dst: Float32Array): void {
  dst.set(heapFloats(t) ?? (t.dataSync() as Float32Array));
}

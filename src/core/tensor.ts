import { UserError } from './errors';

/** A tensor's values on the host side of the engine: what files are read into and written from. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Tensors by name (Hugging Face GPT-2 names for weights; see checkpoint-names.ts). */
export type NamedTensors = Map<string, HostTensor>;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Index of the first NaN or ±Infinity in `data`, or -1 when every value is finite. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return i; // NaN for NaN and ±Infinity, 0 for any finite value
  }
  return -1;
}

/** Refuses weights (or optimizer moments) holding NaN or ±Infinity, naming the file and tensor. */
export function refuseNonFinite(tensors: NamedTensors, source: string): void {
  for (const [name, t] of tensors) {
    const at = firstNonFinite(t.data);
    if (at >= 0)
      throw new UserError(
        '{0}: tensor {1} holds {2} (value {3} of {4}): the model is damaged (a diverged run or a bad edit) and cannot be used',
        source,
        name,
        String(t.data[at]),
        at,
        t.data.length,
      );
  }
}

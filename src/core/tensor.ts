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

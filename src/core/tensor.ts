import { UserError } from './errors';
import { bf16ToFloat32 } from './half-float';

/** A tensor's values on the host side of the engine: what files are read into and written from. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
  /** The values' BF16 bits, when a file stored them so (bf16HostTensor): `data` then widens them on first use. */
  readonly bf16?: Uint16Array;
}

/**
 * A tensor read as BF16, kept as its bits: a model that holds BF16 takes them as they are, and only
 * a reader of `data` pays for the float32 widening (made once, on first use).
 */
export function bf16HostTensor(shape: number[], bits: Uint16Array): HostTensor {
  let widened: Float32Array | undefined;
  return {
    shape,
    bf16: bits,
    get data() {
      return (widened ??= bf16ToFloat32(bits));
    },
  };
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

/** Index of the first NaN or ±Infinity among BF16 bits (all eight exponent bits set), or -1. */
function firstNonFiniteBf16(bits: Uint16Array): number {
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7f80) === 0x7f80) return i;
  return -1;
}

/** Refuses weights (or optimizer moments) holding NaN or ±Infinity, naming the file and tensor. */
export function refuseNonFinite(tensors: NamedTensors, source: string): void {
  for (const [name, t] of tensors) {
    const at = t.bf16 ? firstNonFiniteBf16(t.bf16) : firstNonFinite(t.data);
    if (at >= 0)
      throw new UserError(
        '{0}: tensor {1} holds {2} (value {3} of {4}): the model is damaged (a diverged run or a bad edit) and cannot be used',
        source,
        name,
        String(t.bf16 ? bf16ToFloat32(t.bf16.subarray(at, at + 1))[0] : t.data[at]),
        at,
        t.bf16?.length ?? t.data.length,
      );
  }
}

import type { LlamaBlocks } from './model-config';

// Rotary position embedding (Su et al. 2021) as Llama applies it in Hugging Face's layout: each
// head's vector is two halves (x1, x2) rotated pairwise, x1·cos − x2·sin and x2·cos + x1·sin.

/** θ_i = theta^(−2i/headDim) for the headDim/2 pairs, with Llama 3's adjustment when configured. */
export function inverseFrequencies(l: Pick<LlamaBlocks, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = l.headDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = 1 / Math.pow(l.ropeTheta, (2 * i) / l.headDim);
  const s = l.ropeScaling;
  if (!s) return out;
  const lowFreqWavelength = s.originalContext / s.lowFreqFactor;
  const highFreqWavelength = s.originalContext / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelength = (2 * Math.PI) / out[i];
    if (wavelength > lowFreqWavelength) out[i] /= s.factor;
    else if (wavelength >= highFreqWavelength) {
      const smooth = (s.originalContext / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = (1 - smooth) * (out[i] / s.factor) + smooth * out[i];
    }
  }
  return out;
}

/** cos and sin [count, headDim/2] of positions start … start + count − 1. */
export function rotaryTables(inverse: Float64Array, start: number, count: number): { cos: Float32Array; sin: Float32Array } {
  const half = inverse.length;
  const cos = new Float32Array(count * half);
  const sin = new Float32Array(count * half);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < half; i++) {
      // Hugging Face multiplies in float32; so do we, for the same angles at long positions.
      const angle = Math.fround(Math.fround(start + p) * Math.fround(inverse[i]));
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

import { ModelConfig } from './model-config';
import { parameterCount } from './weight-table';

export interface Estimate {
  params: number;
  /** Those the optimizer updates: all, or with LoRA the adapters'. */
  trainableParams: number;
  /** Training FLOPs per token: forward + backward (PaLM appendix B / nanoGPT's estimate_mfu). */
  flopsPerToken: number;
  /** Bytes held while training: weights, gradients, two AdamW moments, activations kept for backward. */
  trainingBytes: number;
  /** Bytes held by the weights alone (what inference needs, plus a small KV cache). */
  weightBytes: number;
  tokensPerStep: number;
  stepsPerEpoch: number;
  /** Present when a few steps were timed on this machine. */
  secondsPerStep?: number;
  secondsPerEpoch?: number;
}

const FLOAT_BYTES = 4;

/**
 * `adapterParams`: LoRA on a frozen base, whose optimizer updates only these; a frozen weight needs
 * no gradient and no AdamW moments, only itself.
 */
export function estimate(
  config: ModelConfig,
  batch: number,
  stepsPerEpoch: number,
  measuredSecondsPerStep?: number,
  adapterParams?: number,
): Estimate {
  const params = parameterCount(config) + (adapterParams ?? 0);
  const trainableParams = adapterParams ?? params;
  const { layers: l, width: c, context: t, heads: h, vocabSize: v } = config;
  const flopsPerToken = 6 * params + 12 * l * c * t;
  // Activations saved for backward, per token and layer: ~34·width floats plus 5·heads·context for
  // attention maps (Korthikanti et al. 2022, fp32, no recomputation); logits and their softmax twice.
  const activationFloats = batch * t * (l * (34 * c + 5 * h * t) + 3 * v);
  const trainingBytes = FLOAT_BYTES * (params + 3 * trainableParams + activationFloats);
  const e: Estimate = {
    params,
    trainableParams,
    flopsPerToken,
    trainingBytes,
    weightBytes: FLOAT_BYTES * params,
    tokensPerStep: batch * t,
    stepsPerEpoch,
  };
  if (measuredSecondsPerStep !== undefined) {
    e.secondsPerStep = measuredSecondsPerStep;
    e.secondsPerEpoch = measuredSecondsPerStep * stepsPerEpoch;
  }
  return e;
}

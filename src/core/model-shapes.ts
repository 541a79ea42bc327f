import { ModelConfig } from './model-config';

// Real models' shapes (their config.json on the Hugging Face Hub), for benchmarks on random
// weights: no real weights can be downloaded here, and speed and memory depend on the shape alone.

/** SmolLM2-135M: 30 layers, width 576, 9 heads on 3 key/value heads of 64, SwiGLU 1,536, tied head. */
const SMOLLM2_135M: ModelConfig = {
  vocabSize: 49_152,
  context: 8192,
  layers: 30,
  heads: 9,
  width: 576,
  norm: 'rmsnorm',
  dropout: 0,
  bias: false,
  llama: {
    family: 'llama',
    kvHeads: 3,
    headDim: 64,
    mlpWidth: 1536,
    ropeTheta: 100_000,
    qkvBias: false,
    qkNorm: false,
    tiedHead: true,
    normEps: 1e-5,
  },
};

/** Qwen2.5-0.5B: 24 layers, width 896, 14 heads on 2 key/value heads of 64, SwiGLU 4,864, q/k/v biases, tied head. */
const QWEN25_05B: ModelConfig = {
  vocabSize: 151_936,
  context: 32_768,
  layers: 24,
  heads: 14,
  width: 896,
  norm: 'rmsnorm',
  dropout: 0,
  bias: false,
  llama: {
    family: 'qwen2',
    kvHeads: 2,
    headDim: 64,
    mlpWidth: 4864,
    ropeTheta: 1_000_000,
    qkvBias: true,
    qkNorm: false,
    tiedHead: true,
    normEps: 1e-6,
  },
};

export const MODEL_SHAPES = { 'smollm2-135m': SMOLLM2_135M, 'qwen2.5-0.5b': QWEN25_05B } as const;
export type ModelShapeName = keyof typeof MODEL_SHAPES;

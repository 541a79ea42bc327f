import { startEngine } from '../engine/backend';
import { nativeAddon } from '../engine/native';
import { ModelConfig, PRESETS, validateModelConfig } from '../../core/model-config';
import { DEFAULT_TRAIN_OPTIONS } from '../../core/train-options';
import { Rng } from '../../core/rng';
import { Gpt, KERNEL_OPS, NATIVE_KERNEL_OPS, OpSet } from '../model/gpt';
import { AdamW } from '../train/adamw';
import { trainStep } from '../train/train-step';

// What the native kernels of Llama-family blocks (RMSNorm, rotary, SwiGLU, grouped-query
// attention) buy, and what their absence costs on wasm: one-thread training steps of a Llama
// block model beside a GPT-2 one of the tiny preset's shape, on each engine.

const { layers, heads, width, context, batch } = PRESETS.tiny;

/** The tiny preset's shape with Llama-family blocks: 2 key/value heads, SwiGLU of about the GELU MLP's parameters. */
export const LLAMA_TINY: ModelConfig = {
  vocabSize: 65,
  context,
  layers,
  heads,
  width,
  norm: 'rmsnorm',
  dropout: 0,
  bias: false,
  llama: {
    family: 'llama',
    kvHeads: 2,
    headDim: width / heads,
    mlpWidth: 344,
    ropeTheta: 10_000,
    qkvBias: false,
    qkNorm: false,
    tiedHead: true,
    normEps: 1e-5,
  },
};
export const GPT2_TINY: ModelConfig = { vocabSize: 65, context, layers, heads, width, norm: 'layernorm', dropout: 0, bias: false };

export interface StepCase {
  label: string;
  engine: 'wasm' | 'native';
  config: ModelConfig;
  /** The op set the model runs on; undefined: the engine's own choice. */
  ops?: OpSet;
}

export const STEP_CASES: StepCase[] = [
  { label: 'wasm, Llama blocks (tfjs ops for the four)', engine: 'wasm', config: LLAMA_TINY },
  { label: 'wasm, GPT-2 blocks (wasm kernels)', engine: 'wasm', config: GPT2_TINY },
  { label: 'native, Llama blocks on tfjs ops for the four', engine: 'native', config: LLAMA_TINY, ops: KERNEL_OPS },
  { label: 'native, Llama blocks on the native kernels', engine: 'native', config: LLAMA_TINY, ops: NATIVE_KERNEL_OPS },
  { label: 'native, GPT-2 blocks', engine: 'native', config: GPT2_TINY },
];

/** Median ms of `steps` one-thread training steps (after 2 untimed) on random tokens. */
export async function medianStepMs(c: StepCase, steps: number): Promise<number> {
  await startEngine(c.engine);
  nativeAddon()?.setThreads(1);
  const model = Gpt.initialise(validateModelConfig(c.config), 1);
  if (c.ops) model.ops = c.ops;
  const optimizer = new AdamW(model.params, DEFAULT_TRAIN_OPTIONS, model.decayed);
  const rng = new Rng(7);
  const times: number[] = [];
  try {
    for (let update = 1; update <= steps + 2; update++) {
      const inputs = Int32Array.from({ length: batch * context }, () => rng.below(c.config.vocabSize));
      const targets = Int32Array.from({ length: batch * context }, () => rng.below(c.config.vocabSize));
      const t0 = performance.now();
      await trainStep(model, optimizer, { inputs, targets, batch, lr: 1e-3, update, gradClip: 1 });
      if (update > 2) times.push(performance.now() - t0);
    }
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine } from '../../src/worker/engine/backend';
import { loadAddon, nativeAddon } from '../../src/worker/engine/native';
import { nativeKernels } from '../../src/worker/engine/kernels/kernel-module';
import { profileTrainingStep } from '../../src/worker/bench/step-profile';
import { MODEL_DEFAULTS, ModelConfig, withArch } from '../../src/core/model-config';

// bench --profile names our own native kernels (they run outside tfjs's kernels, so tf.profile
// cannot see them) instead of counting their time as JavaScript.
const loaded = loadAddon();
const missing = 'why' in loaded ? loaded.why : undefined;
const skip = missing && process.env.CI !== 'true' ? `native engine not available: ${missing}` : false;

before(async () => {
  if (!skip) await startEngine('native');
});

test('a profiled Llama-block step on native lists each of our kernels by name, apart from the tfjs kernels', { skip }, async () => {
  const config: ModelConfig = withArch(
    { ...MODEL_DEFAULTS, layers: 2, heads: 4, width: 32, context: 16, vocabSize: 50, dropout: 0 },
    'llama',
  );
  const p = await profileTrainingStep(config, 2, 1);
  const calls = new Map(p.byOwnKernel.map((r) => [r.kernel, r.calls]));
  // each block one call each way (native/llama-block.cc), the final RMSNorm, the loss, the embedding
  for (const [kernel, n] of [
    ['llamaBlockForward', 2],
    ['llamaBlockBackward', 2],
    ['rmsNormForward', 1],
    ['rmsNormBackward', 1],
    ['crossEntropyForward', 1],
    ['crossEntropyBackward', 1],
    ['embeddingForward', 1],
    ['embeddingBackwardAdd', 1],
    // the optimizer: every parameter in one call each (native/optimizer.cc)
    ['sumSquaresAll', 1],
    ['adamwAll', 1],
  ] as const)
    assert.equal(calls.get(kernel), n, `${kernel}: ${JSON.stringify(p.byOwnKernel)}`);
  for (const kernel of ['rotary', 'groupedAttentionForward', 'swigluForward', 'swigluBackward', 'llamaBlockSavedFloats'])
    assert.ok(!calls.has(kernel), `${kernel} runs outside the block's call: ${JSON.stringify(p.byOwnKernel)}`);
  // BLAS products run inside tfjs's BatchMatMul (the head's here): counted there, not twice
  assert.ok(!calls.has('gemm') && !calls.has('gemmBatched'), [...calls.keys()].join(','));
  assert.ok(p.byKernel.some((r) => r.kernel === 'BatchMatMul'));
  assert.equal(
    p.ownKernelCalls,
    p.byOwnKernel.reduce((n, r) => n + r.calls, 0),
  );
  assert.ok(p.ownKernelMs > 0 && p.kernelMs + p.ownKernelMs < p.wallMs, `${p.kernelMs} + ${p.ownKernelMs} of ${p.wallMs} ms`);
  // after the profiled step, the kernels are handed out unwrapped again
  assert.equal(nativeKernels(), nativeAddon());
});

test(
  'a profiled GPT-2 step on native: each block one call each way, the optimizer one call each, no causal mask made',
  { skip },
  async () => {
    const config: ModelConfig = { ...MODEL_DEFAULTS, layers: 3, heads: 4, width: 32, context: 16, vocabSize: 50, dropout: 0 };
    const p = await profileTrainingStep(config, 2, 1);
    const calls = new Map(p.byOwnKernel.map((r) => [r.kernel, r.calls]));
    for (const [kernel, n] of [
      ['gpt2BlockForward', config.layers],
      ['gpt2BlockBackward', config.layers],
      ['sumSquaresAll', 1],
      ['adamwAll', 1],
      ['layerNormForward', 1],
    ] as const)
      assert.equal(calls.get(kernel), n, `${kernel}: ${JSON.stringify(p.byOwnKernel)}`);
    for (const kernel of ['linearForward', 'attentionForward', 'geluForward', 'adamwUpdate', 'sumSquares'])
      assert.ok(!calls.has(kernel), `${kernel} runs outside the block's call: ${JSON.stringify(p.byOwnKernel)}`);
    // the causal mask is for the tfjs-ops attention only
    const tfjsKernels = p.byKernel.map((r) => r.kernel);
    for (const kernel of ['LogicalAnd', 'Select']) assert.ok(!tfjsKernels.includes(kernel), tfjsKernels.join(','));
  },
);

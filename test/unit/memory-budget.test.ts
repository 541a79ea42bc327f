import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTrainingFits } from '../../src/core/memory-budget';
import { estimate } from '../../src/core/estimate';
import { MODEL_SHAPES } from '../../src/core/model-shapes';
import { defaultLoraTargets } from '../../src/core/finetune';
import { loraParameterCount, matchTargets } from '../../src/core/lora-adapter';
import { loadAddon } from '../../src/worker/engine/native';
import { runBenchJob } from '../../src/worker/jobs/bench-job';
import { userError } from './helpers';

const GiB = 1024 ** 3;
const native = 'addon' in loadAddon();

test('the native engine computes on the wasm heap: a run needing more than 3.75 GiB is refused however much memory the machine has', () => {
  assert.throws(
    () => checkTrainingFits(4 * GiB, 'native', 64 * GiB),
    userError(/needs about 4(\.\d)? GB to train .* more than the 3\.8 GB the native engine can use \(the wasm heap .*\): lower one of /),
  );
  checkTrainingFits(4 * GiB, 'tensorflow', 64 * GiB);
});

test("LoRA at Qwen2.5-0.5B's shape, batch 4 × 128: a float32 base (2 GB) does not fit the heap, the same base held as BF16 does", () => {
  const config = { ...MODEL_SHAPES['qwen2.5-0.5b'], context: 128 };
  const adapters = loraParameterCount(config, matchTargets(config, defaultLoraTargets(config)), 8);
  const bytes = (frozenBytes: number) => estimate(config, 4, 1, undefined, adapters, frozenBytes).trainingBytes;
  assert.throws(() => checkTrainingFits(bytes(4), 'native', 64 * GiB), userError(/more than the 3\.8 GB the native engine can use/));
  checkTrainingFits(bytes(2), 'native', 64 * GiB);
  // The frozen base has no gradient and no AdamW moments: a full run of the same shape needs far more.
  assert.ok(estimate(config, 4, 1).trainingBytes > 2 * bytes(4));
});

test("full training at SmolLM2-135M's shape, batch 4 × 128, fits the heap (its step measured 2.82 GiB RSS): it is not refused", () => {
  const config = { ...MODEL_SHAPES['smollm2-135m'], context: 128 };
  checkTrainingFits(estimate(config, 4, 1).trainingBytes, 'native', 64 * GiB);
});

test(
  'bench --shape qwen2.5-0.5b --lora at a batch the heap cannot hold is refused in one line before anything is allocated',
  { skip: native ? false : 'native engine not available' },
  async () => {
    await assert.rejects(
      runBenchJob({ shape: 'qwen2.5-0.5b', lora: true, batch: 32, backend: 'native' }),
      userError(/^this configuration needs about \d+(\.\d)? GB to train .* the native engine can use .*: lower one of --batch, --context$/),
    );
  },
);

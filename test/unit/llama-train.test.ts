import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt } from '../../src/worker/model/gpt';
import { MODEL_DEFAULTS, PRESETS, validateModelConfig, withArch } from '../../src/core/model-config';
import { parameterCount } from '../../src/core/weight-table';
import { readCheckpoint, resolveCheckpoint } from '../../src/core/checkpoint';
import { isUserError } from '../../src/core/errors';
import { assertCliUserError, jsonLines, KOREAN, REPO, runCli, tempDir } from './helpers';

before(async () => {
  await startEngine('wasm');
});

test("Llama blocks at GPT-2 blocks' parameter budget: within 2 % at both presets, with grouped-query attention and SwiGLU", () => {
  for (const name of ['tiny', 'small'] as const) {
    const { batch: _batch, ...shape } = PRESETS[name];
    const gpt2 = validateModelConfig({ ...MODEL_DEFAULTS, ...shape, vocabSize: 300 });
    const llama = validateModelConfig(withArch(gpt2, 'llama'));
    assert.equal(llama.llama!.kvHeads, gpt2.heads / 2);
    assert.equal(llama.llama!.mlpWidth, 3 * gpt2.width);
    const ratio = parameterCount(llama) / parameterCount(gpt2);
    assert.ok(Math.abs(ratio - 1) < 0.02, `${name}: ${parameterCount(llama)} vs ${parameterCount(gpt2)}`);
  }
  assert.throws(
    () => withArch(validateModelConfig({ ...MODEL_DEFAULTS, ...PRESETS.tiny, norm: 'dyt', vocabSize: 10 }), 'llama'),
    (e: unknown) => isUserError(e) && /RMSNorm/.test(String((e as Error).message)),
  );
});

// transformers where it is installed (CORPUS_LAB_PEFT_PYTHON), else a PyTorch reading of the same code.
const PYTHON = [process.env.CORPUS_LAB_PEFT_PYTHON, '/usr/bin/python3'].find(
  (p) => p && spawnSync(p, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0,
);

test("train --arch llama: a LlamaForCausalLM checkpoint that learns, resumes, and reads back with transformers' probabilities", async () => {
  const dir = tempDir();
  const run = join(dir, 'run');
  const shape = ['--layers', '2', '--heads', '4', '--width', '32', '--context', '32', '--batch', '4', '--seed', '3', '--backend', 'wasm'];
  const first = runCli(
    ['train', KOREAN, '--arch', 'llama', ...shape, '--max-steps', '60', '--lr', '0.003', '--eval-every', '20', '--json', '-o', run],
    dir,
    300_000,
  );
  assert.equal(first.code, 0, first.stderr);
  const events = jsonLines(first.stdout);
  const vals = events.filter((e) => e.type === 'eval').map((e) => e.val_loss as number);
  assert.ok(vals.length >= 3 && vals.at(-1)! < vals[0] - 0.3, `validation loss ${vals.join(' → ')}`);

  const ckpt = resolveCheckpoint(run);
  const config = JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8'));
  assert.equal(config.model_type, 'llama');
  assert.deepEqual(config.architectures, ['LlamaForCausalLM']);
  assert.equal(config.num_key_value_heads, 2);

  const resumed = runCli(['train', '--resume', run, '--max-steps', '70', '--backend', 'wasm', '--json'], dir, 300_000);
  assert.equal(resumed.code, 0, resumed.stderr);
  const steps = jsonLines(resumed.stdout)
    .filter((e) => e.type === 'step')
    .map((e) => e.step as number);
  assert.equal(steps[0], 61, 'the resumed run continues at step 61');
  assert.equal(steps.at(-1), 70);

  const loaded = readCheckpoint(resolveCheckpoint(run), { withOptimizer: false });
  assert.ok(loaded.config.llama, 'read back as Llama blocks');
  const ids = loaded.tokenizer.encodeAll('대한민국은 민주공화국이다. 모든 국민은').slice(0, 32);
  const model = Gpt.fromWeights(loaded.config, loaded.weights);
  const ours = await tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d([...ids], [1, ids.length], 'int32')))).data();
  model.dispose();
  if (!PYTHON) return;
  const ref = JSON.parse(
    execFileSync(PYTHON, [join(REPO, 'test/reference/llama_logits.py'), resolveCheckpoint(run), JSON.stringify([...ids])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  if (ref.reader === 'transformers') assert.equal(ref.class, 'LlamaForCausalLM');
  const theirs = (ref.logprobs as number[][]).flat();
  assert.equal(theirs.length, ours.length);
  let max = 0;
  theirs.forEach((v, i) => (max = Math.max(max, Math.abs(v - ours[i]))));
  assert.ok(max < 1e-4, `max |Δ log p| ${max} against ${ref.reader}`);
});

test('train --arch refuses what Llama blocks do not have, in one line', () => {
  const dir = tempDir();
  assertCliUserError(['train', KOREAN, '--arch', 'llama', '--norm', 'dyt', '--max-steps', '1'], dir, /RMSNorm/);
  assertCliUserError(['train', KOREAN, '--arch', 'mamba', '--max-steps', '1'], dir, /arch/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';
import { evalWindowStarts } from '../../src/core/batches';
import { textSize } from '../../src/core/baselines';
import { Tokenizer } from '../../src/core/tokenizer';
import { CLI, ENGLISH, REPO, tempDir } from './helpers';

test("export-torch of a LoRA run on a text takes the text's prepared ids from the cache: train.bin, val.bin and the scored held-out size are the text's ids as the run split them", () => {
  const root = tempDir('corpus-lab-lora-text-export-');
  const cache = join(root, 'cache');
  const text = join(root, 'text.txt');
  writeFileSync(text, readFileSync(ENGLISH, 'utf8').slice(0, 12_000));
  const base = join(REPO, 'test/fixtures/hf-llama/qwen2');
  const run = join(root, 'run');
  const args = ['finetune', base, text, '--lora', '--max-steps', '1', '--batch', '2', '--context', '64', '--backend', 'wasm', '-o', run];
  const trained = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CORPUS_LAB_CACHE: cache } });
  assert.equal(trained.status, 0, trained.stderr);

  const saved = process.env.CORPUS_LAB_CACHE;
  process.env.CORPUS_LAB_CACHE = cache;
  try {
    const out = join(root, 'export');
    const result = exportTorch(run, out);
    assert.ok('data' in result && result.data === 'tokens');
    const tokenizer = Tokenizer.fromJSON(readFileSync(join(base, 'tokenizer.json'), 'utf8'), base);
    // Prepared by the export (reused now), not encoded from the text in memory.
    const prepared = prepareCorpusSync(text, tokenizer, { cacheRoot: join(cache, 'prepared') });
    assert.ok(prepared.reused, 'the export prepared the text into the cache');
    prepared.tokens.close();

    const ids = tokenizer.encodeAll(readFileSync(text, 'utf8'));
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8'));
    const { trainTokens, valTokens, options } = plan.plan;
    assert.equal(trainTokens + valTokens, ids.length);
    const u16 = (a: Int32Array) => Buffer.from(Uint16Array.from(a).buffer);
    assert.equal(plan.data.dtype, 'uint16');
    assert.ok(readFileSync(join(out, 'train.bin')).equals(u16(ids.subarray(0, trainTokens))), 'train.bin');
    assert.ok(readFileSync(join(out, 'val.bin')).equals(u16(ids.subarray(trainTokens))), 'val.bin');
    const val = ids.subarray(trainTokens);
    const windows = evalWindowStarts(val.length, options.context, options.evalBatches * options.batch).length;
    const scored = val.subarray(1, windows * options.context + 1);
    assert.ok(scored.length > 0);
    assert.deepEqual(plan.eval, { tokens: scored.length, ...textSize(tokenizer, scored) });
  } finally {
    if (saved === undefined) delete process.env.CORPUS_LAB_CACHE;
    else process.env.CORPUS_LAB_CACHE = saved;
  }
});

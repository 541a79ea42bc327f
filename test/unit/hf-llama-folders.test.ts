import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFolder } from '../../src/core/model-folder';
import { loadModel } from '../../src/worker/jobs/load-model';
import { tf } from '../../src/worker/engine/backend';
import { AUTO_BACKEND, REPO } from './helpers';

// Folders written by transformers' save_pretrained (test/reference/make_llama_folders.py) and what
// transformers computes on them: each opens through the CLI's path and gives the same numbers.
const DIR = join(REPO, 'test/fixtures/hf-llama');

interface Reference {
  prompt: string;
  ids: number[];
  positions: { top_ids: number[]; top_logprobs: number[]; next_logprob?: number }[];
  loss: number;
}

const FOLDERS = {
  llama: { dtype: 'F32', family: 'llama', tiedHead: false, shards: 1, ropeScaling: true, qkvBias: false, qkNorm: false, headDim: 16 },
  mistral: { dtype: 'F16', family: 'mistral', tiedHead: false, shards: 1, ropeScaling: false, qkvBias: false, qkNorm: false, headDim: 16 },
  qwen2: { dtype: 'BF16', family: 'qwen2', tiedHead: true, shards: 3, ropeScaling: false, qkvBias: true, qkNorm: false, headDim: 16 },
  qwen3: { dtype: 'BF16', family: 'qwen3', tiedHead: true, shards: 1, ropeScaling: false, qkvBias: false, qkNorm: true, headDim: 32 },
} as const;

function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

for (const [name, expected] of Object.entries(FOLDERS)) {
  const dir = join(DIR, name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;

  test(`${name}: the folder transformers wrote (${expected.dtype}, ${expected.shards} file(s)) opens with its config, weights and tokenizer`, () => {
    const m = readModelFolder(dir);
    assert.equal(m.kind, 'huggingface');
    const l = m.config.llama!;
    assert.equal(l.family, expected.family);
    assert.equal(l.tiedHead, expected.tiedHead);
    assert.equal(l.headDim, expected.headDim);
    assert.equal(l.qkvBias, expected.qkvBias);
    assert.equal(l.qkNorm, expected.qkNorm);
    assert.equal(l.kvHeads, 2);
    assert.equal(Boolean(l.ropeScaling), expected.ropeScaling);
    assert.equal(m.weights.has('lm_head.weight'), !expected.tiedHead);
    assert.equal(m.weightsFile, join(dir, expected.shards > 1 ? 'model.safetensors.index.json' : 'model.safetensors'));
    assert.deepEqual(m.tokenizer.encode(ref.prompt), ref.ids);
  });

  for (const backend of new Set(['wasm', AUTO_BACKEND] as const))
    test(`${name}: our model (${backend}) gives transformers' next-token log-probabilities (within 1e-4) and loss (1e-4 relative)`, async () => {
      const loaded = await loadModel(dir, backend);
      try {
        const logits = loaded.model.forward(tf.tensor2d(ref.ids, [1, ref.ids.length], 'int32'));
        const [rows, vocab] = logits.shape;
        const values = (await logits.data()) as Float32Array;
        logits.dispose();
        assert.equal(rows, ref.ids.length);
        let worst = 0;
        let loss = 0;
        ref.positions.forEach((p, t) => {
          const logprobs = logSoftmax(values.subarray(t * vocab, (t + 1) * vocab));
          p.top_ids.forEach((id, k) => (worst = Math.max(worst, Math.abs(logprobs[id] - p.top_logprobs[k]))));
          if (p.next_logprob !== undefined) {
            worst = Math.max(worst, Math.abs(logprobs[ref.ids[t + 1]] - p.next_logprob));
            loss -= logprobs[ref.ids[t + 1]];
          }
        });
        loss /= ref.ids.length - 1;
        assert.ok(worst < 1e-4, `largest log-probability difference ${worst}`);
        assert.ok(Math.abs(loss - ref.loss) / ref.loss < 1e-4, `loss ${loss}, transformers ${ref.loss}`);
      } finally {
        loaded.model.dispose();
      }
    });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeCheckpoint } from '../../src/core/checkpoint';
import { NamedTensors } from '../../src/core/tensor';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt } from '../../src/worker/model/gpt';
import { runEvalJob } from '../../src/worker/jobs/eval-job';
import { REPO, smallModelConfig, tempDir } from './helpers';

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;

/** Next-token cross-entropy, summed, of the window `ids` at logit rows `from`.. (PyTorch's logits, log-softmax here). */
function referenceLoss(dir: string, ids: number[], from: number): number {
  const out = execFileSync('/usr/bin/python3', [join(REPO, 'test/reference/gpt2_logits.py'), dir, JSON.stringify(ids.slice(0, -1))], {
    encoding: 'utf8',
  });
  const logits = JSON.parse(out).logits as number[][];
  let sum = 0;
  for (let q = from; q < logits.length; q++) {
    const row = logits[q];
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    sum += lse - row[ids[q + 1]];
  }
  return sum;
}

test('eval scores every token of a file whose length is not a multiple of the context (the last window overlaps)', async (t) => {
  const root = tempDir();
  try {
    await startEngine('wasm');
    // 45 tokens, context 16: windows predicting tokens 1–16 and 17–32, then one over 28–44 of which 33–44 are new.
    const text = 'the fast black cat sees a big red hat, ideas ok';
    const tokenizer = trainTokenizer(text, { kind: 'char' });
    const config = smallModelConfig(tokenizer.vocabSize);
    const model = Gpt.initialise(config, 3);
    for (const v of model.params.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 9)));
    const weights = await model.weights();
    model.dispose();
    const optimizer: NamedTensors = new Map([...weights].flatMap(([n, w]) => [[`m.${n}`, w] as const, [`v.${n}`, w] as const]));
    const dir = writeCheckpoint(join(root, 'run'), 'epoch-0001', {
      config,
      weights,
      optimizer,
      trainerState: { step: 1, epoch: 1, cursor: 0, seed: 1, best_val_loss: null, rng: {} },
      tokenizerJson: tokenizer.toJSON(),
    });
    const file = join(root, 'text.txt');
    writeFileSync(file, text.slice(0, 45));
    const ids = Tokenizer.fromJSON(tokenizer.toJSON()).encode(text.slice(0, 45));
    assert.equal(ids.length, 45);

    const r = await runEvalJob(dir, file, 'wasm');
    assert.equal(r.tokens, 44);
    assert.equal(r.chars, 44);
    assert.equal(r.bytes, 44);

    if (!hasTorch) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
    const reference =
      (referenceLoss(dir, ids.slice(0, 17), 0) + referenceLoss(dir, ids.slice(16, 33), 0) + referenceLoss(dir, ids.slice(28, 45), 4)) / 44;
    assert.ok(Math.abs(r.loss - reference) < 1e-4, `eval ${r.loss}, PyTorch ${reference}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

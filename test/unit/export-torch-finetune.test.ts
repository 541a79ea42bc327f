import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrainRequest } from '../../src/worker/jobs/train-job';
import { FinetuneRequest } from '../../src/worker/jobs/finetune-job';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { readMetrics } from '../../src/core/metrics';
import { compareRuns } from '../../src/core/compare-runs';
import { readRunJson } from '../../src/core/run-json';
import { ENGLISH, REPO, TINY_MODEL, tempDir } from './helpers';
import { assertClose, finetuneLosses, stepLosses, trainLosses } from './loss-curves';

// Debian's torch 1.13 in CI; CORPUS_LAB_TORCH_PYTHON names another (one with `tokenizers` also checks the samples).
const PYTHON = process.env.CORPUS_LAB_TORCH_PYTHON ?? '/usr/bin/python3';
const TORCHRUN = ['-m', 'torch.distributed.run', '--monitor_interval', '0.5', '--redirects', '9:0', '--tee', '9:0'];
const has = (modules: string) => spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' }).status === 0;

function script(exportDir: string, args: string[], nproc?: number) {
  const argv = nproc ? [...TORCHRUN, '--nproc_per_node', String(nproc)] : [];
  const r = spawnSync(PYTHON, [...argv, join(exportDir, 'train.py'), '--device', 'cpu', ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { ...r, events };
}

/** Each evaluation's `field`, by step. */
const byStep = (evals: Record<string, unknown>[], field: string) => new Map(evals.map((e) => [e.step as number, e[field] as number]));

test("export-torch of a full fine-tune of a Corpus Lab run, replaying its base's text: train.py continues it with Corpus Lab's losses and evaluations (base_val_loss, bits per character, the sample) on 1 and 2 gloo ranks, and the run reads back as a fine-tune", async (t) => {
  if (!has('torch, numpy')) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  const root = tempDir('corpus-lab-torch-finetune-');
  const base: TrainRequest = { ...TINY_MODEL, threads: 1, corpusPath: ENGLISH, maxSteps: 2, runDir: join(root, 'base') };
  await trainLosses(base);
  // Fine-tuned on another text than its base's, so its held-out loss and its base's (forgetting) differ.
  const later = join(root, 'later.txt');
  writeFileSync(later, readFileSync(ENGLISH, 'utf8').slice(40_000, 60_000));
  const req: FinetuneRequest = {
    basePath: join(root, 'base'),
    corpusPath: later,
    replay: 0.5,
    batch: 4,
    maxSteps: 5,
    backend: 'wasm',
    threads: 1,
  };
  const reference = await finetuneLosses({ ...req, runDir: join(root, 'reference') });
  await finetuneLosses({ ...req, runDir: join(root, 'laptop') }, 2);
  const laptopEvals = readMetrics(join(root, 'reference')).filter((m) => m.type === 'eval' && (m.step as number) > 2);
  assert.deepEqual(
    laptopEvals.map((e) => e.step),
    [3, 4, 5],
  );

  const exp = join(root, 'exp');
  const result = exportTorch(join(root, 'laptop'), exp);
  assert.ok(!('base' in result) && result.data === 'tokens');
  // The base's text goes along: its training part to replay, its held-out part for the forgetting meter.
  for (const f of ['replay.bin', 'base-val.bin']) assert.ok(existsSync(join(exp, f)), f);

  const samples = has('tokenizers');
  const runs = [
    { name: 'torch-1', r: script(exp, ['--out', join(root, 'torch-1')]) },
    { name: 'torch-2', r: script(exp, ['--batch', '1', '--out', join(root, 'torch-2')], 2) },
  ];
  for (const { name, r } of runs) {
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assertClose(stepLosses(r.events), reference, [3, 4, 5], 1e-5, `${name}: steps after the export (replayed rows included)`);
    const evals = readMetrics(join(root, name)).filter((m) => m.type === 'eval' && (m.step as number) > 2);
    assert.deepEqual(
      evals.map((e) => e.step),
      [3, 4, 5],
      name,
    );
    for (const field of ['val_loss', 'base_val_loss', 'val_bits_per_char', 'val_bits_per_byte'])
      assertClose(byStep(evals, field), byStep(laptopEvals, field), [3, 4, 5], 1e-5, `${name}: ${field}`);
    const notices = r.events.filter((e) => e.type === 'notice').map((e) => e.message);
    if (samples)
      for (const [i, e] of evals.entries()) assert.equal(e.sample, laptopEvals[i].sample, `${name}: the sample at step ${e.step}`);
    else {
      assert.ok(
        evals.every((e) => e.sample === undefined),
        name,
      );
      assert.deepEqual(notices, ['no samples: the tokenizers package is not installed (python3 -m pip install tokenizers)'], name);
    }
  }

  // The run comes back as the fine-tune it continues: its record, and Compare reads its best bits per character.
  const run = join(root, 'torch-2');
  assert.deepEqual(readRunJson(run).finetune, readRunJson(join(root, 'laptop')).finetune);
  const compared = compareRuns([{ name: 'torch-2', dir: run, run: readRunJson(run), metrics: readMetrics(run) }]).runs[0];
  assert.ok(compared.best && Number.isFinite(compared.best.bitsPerChar), JSON.stringify(compared));
});

test('export-torch of a full fine-tune on more held-out examples than Corpus Lab evaluates (evalBatches × batch): the export carries those it evaluates, read from the prepared rows, and train.py reports its held-out loss and bits per character', async (t) => {
  if (!has('torch, numpy')) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  const root = tempDir('corpus-lab-torch-examples-');
  // 300 prompt/completion pairs: 30 held out, where Corpus Lab evaluates the first 20 × 1.
  const lines = Array.from({ length: 300 }, (_, i) =>
    JSON.stringify({ prompt: `질문 ${i}: ${i} 더하기 ${i}는?`, completion: ` ${2 * i}입니다.` }),
  );
  const data = join(root, 'sums.jsonl');
  writeFileSync(data, lines.join('\n') + '\n');
  const req: FinetuneRequest = {
    basePath: join(REPO, 'test/fixtures/hf-llama/qwen2'),
    corpusPath: data,
    batch: 1,
    context: 32,
    maxSteps: 3,
    backend: 'wasm',
    threads: 1,
  };
  const reference = await finetuneLosses({ ...req, runDir: join(root, 'reference') });
  await finetuneLosses({ ...req, runDir: join(root, 'laptop') }, 2);
  const exp = join(root, 'exp');
  const result = exportTorch(join(root, 'laptop'), exp);
  assert.equal(result.data, 'examples');
  const plan = JSON.parse(readFileSync(join(exp, 'plan.json'), 'utf8'));
  assert.equal(plan.data.val.rows, plan.plan.options.evalBatches);

  const r = script(exp, ['--out', join(root, 'torch')]);
  assert.equal(r.status, 0, r.stderr);
  assertClose(stepLosses(r.events), reference, [3], 1e-5, 'the step after the export');
  const evals = (run: string) => readMetrics(run).filter((m) => m.type === 'eval' && m.step === 3);
  for (const field of ['val_loss', 'val_bits_per_char'])
    assertClose(byStep(evals(join(root, 'torch')), field), byStep(evals(join(root, 'reference')), field), [3], 1e-5, field);
});

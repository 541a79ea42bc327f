import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FinetuneRequest } from '../../src/worker/jobs/finetune-job';
import { TrainRequest } from '../../src/worker/jobs/train-job';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { listRuns } from '../../src/core/runs';
import { metricRows, readMetrics } from '../../src/core/metrics';
import { compareRuns } from '../../src/core/compare-runs';
import { readRunJson } from '../../src/core/run-json';
import { CLI, ENGLISH, KOREAN, REPO, TINY_MODEL, jsonLines, koreanDocuments, tempDir } from './helpers';
import { assertClose, finetuneLosses as finetune, stepLosses, trainLosses } from './loss-curves';

// train_peft.py runs on the real transformers + PEFT (CORPUS_LAB_PEFT_PYTHON names a Python with torch, transformers and peft).
const PYTHON = process.env.CORPUS_LAB_PEFT_PYTHON ?? 'python3';
const hasPeft = spawnSync(PYTHON, ['-c', 'import torch, transformers, peft, numpy'], { encoding: 'utf8' }).status === 0;
const SKIP = !hasPeft && `transformers + peft are not installed for ${PYTHON} (set CORPUS_LAB_PEFT_PYTHON)`;

const QA = join(REPO, 'test/fixtures/sft/constitution-qa-ko.jsonl');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
}

/** train_peft.py in one process, or under torchrun with `nproc` gloo ranks. */
function script(exportDir: string, args: string[], nproc?: number) {
  const launcher = nproc ? ['-m', 'torch.distributed.run', '--monitor_interval', '0.5', '--nproc_per_node', String(nproc)] : [];
  const r = spawnSync(PYTHON, [...launcher, join(exportDir, 'train_peft.py'), '--device', 'cpu', ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  return {
    ...r,
    events: r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** The evaluations a run logged after `step`. */
function evalsAfter(metrics: Record<string, unknown>[], step: number) {
  return metrics.filter((m) => m.type === 'eval' && (m.step as number) > step);
}

/** A Qwen2 folder (BF16 shards, tied head) with a ChatML template, as Qwen's. */
function qwen2WithTemplate(root: string): string {
  const dir = join(root, 'qwen2');
  cpSync(join(REPO, 'test/fixtures/hf-llama/qwen2'), dir, { recursive: true });
  cpSync(join(REPO, 'test/fixtures/sft/chatml.jinja'), join(dir, 'chat_template.jinja'));
  return dir;
}

test(
  'export-torch of a LoRA fine-tune on Korean Q&A examples (Qwen2): train_peft.py on transformers + PEFT continues it with our losses on 1 and 2 gloo ranks, and the run comes back to eval, merge, resume and finetune --lora',
  { skip: SKIP },
  async () => {
    const root = tempDir('corpus-lab-peft-export-');
    const req: FinetuneRequest = {
      basePath: qwen2WithTemplate(root),
      corpusPath: QA,
      lora: true,
      context: 128,
      batch: 4,
      maxSteps: 6,
      backend: 'wasm',
      threads: 1,
    };
    const reference = await finetune({ ...req, runDir: join(root, 'reference') });
    await finetune({ ...req, runDir: join(root, 'laptop') }, 3);

    const exp = join(root, 'exp');
    const out = cli('export-torch', join(root, 'laptop'), '-o', exp, '--json');
    assert.equal(out.status, 0, out.stderr);
    const summary = JSON.parse(out.stdout);
    assert.deepEqual([summary.step, summary.total_steps, summary.script, summary.data], [3, 6, 'train_peft.py', 'examples']);
    assert.equal(summary.base.copied, false);
    for (const f of ['train_peft.py', 'train.py', 'README.md', 'checkpoints/step-00000003/adapter_model.safetensors'])
      assert.ok(existsSync(join(exp, f)), f);
    const plan = JSON.parse(readFileSync(join(exp, 'plan.json'), 'utf8'));
    assert.deepEqual([plan.start.step, plan.lora.r, plan.lora.alpha, plan.lora.targets.length], [3, 8, 16, 7]);
    assert.equal(JSON.parse(readFileSync(join(exp, 'base.json'), 'utf8')).path, req.basePath);
    // Examples one per row: ids padded with 0, labels -100 on what is not trained (the prompt, the padding).
    const { rows, width } = plan.data.train;
    assert.equal(rows, plan.plan.examples);
    assert.equal(statSync(join(exp, 'train-labels.bin')).size, rows * width * 4);
    const labels = new Int32Array(readFileSync(join(exp, 'train-labels.bin')).buffer.slice(0));
    const ids = new Int32Array(readFileSync(join(exp, 'train-ids.bin')).buffer.slice(0));
    assert.ok(labels.some((l) => l === -100) && labels.some((l, i) => l !== -100 && l === ids[i]));
    assert.ok(labels.every((l, i) => l === -100 || l === ids[i]));

    // One process continues from step 3 with the losses Corpus Lab computes from there.
    const one = script(exp, ['--out', join(root, 'torch-1')]);
    assert.equal(one.status, 0, one.stderr);
    const oneLosses = stepLosses(one.events);
    assert.deepEqual([...oneLosses.keys()], [4, 5, 6]);
    assertClose(oneLosses, reference, [4], 1e-4, 'first step after the export');
    assertClose(oneLosses, reference, [5, 6], 1e-3, 'later steps');

    // Two gloo ranks, one row per pass: the same global batch, the same loss curve.
    const runs = join(root, 'runs');
    const run = join(runs, 'torch-2');
    const two = script(exp, ['--batch', '1', '--out', run], 2);
    assert.equal(two.status, 0, two.stderr);
    assertClose(stepLosses(two.events), oneLosses, [4, 5, 6], 1e-5, '2 ranks vs 1');

    // The run folder is a Corpus Lab LoRA run: listed, its whole history of metrics, a PEFT checkpoint.
    const [listed] = await listRuns(runs);
    assert.equal(listed.status, 'completed');
    // Compare reads it: its best held-out bits per character against its unigram baseline (carried over from the laptop).
    const compared = compareRuns([{ name: 'torch-2', dir: run, run: readRunJson(run), metrics: readMetrics(run) }]).runs[0];
    assert.ok(compared.best && Number.isFinite(compared.best.bitsPerChar) && compared.unigramBitsPerChar! > 0, JSON.stringify(compared));
    assert.deepEqual(
      listed.checkpoints.map((c) => c.step),
      [6],
    );
    assert.deepEqual(
      readMetrics(run)
        .filter((m) => m.type === 'step')
        .map((m) => m.step),
      [1, 2, 3, 4, 5, 6],
    );
    const checkpoint = join(run, 'checkpoints', 'step-00000006');
    const config = JSON.parse(readFileSync(join(checkpoint, 'adapter_config.json'), 'utf8'));
    assert.deepEqual([config.peft_type, config.r, config.fan_in_fan_out], ['LORA', 8, false]);

    // train --resume continues it on the laptop as it continues Corpus Lab's own run.
    const resumed = cli('train', QA, '--resume', run, '--max-steps', '8', '--threads', '1', '--backend', 'wasm', '--json');
    assert.equal(resumed.status, 0, resumed.stderr);
    const referenceMore = cli(
      'train',
      QA,
      '--resume',
      join(root, 'reference'),
      '--max-steps',
      '8',
      '--threads',
      '1',
      '--backend',
      'wasm',
      '--json',
    );
    assert.equal(referenceMore.status, 0, referenceMore.stderr);
    assertClose(stepLosses(jsonLines(resumed.stdout)), stepLosses(jsonLines(referenceMore.stdout)), [7, 8], 1e-3, 'resumed on the laptop');

    // eval reads its checkpoint; finetune --lora trains its adapter further in a new run; merge writes a plain Qwen2 folder.
    const evaluated = cli('eval', checkpoint, KOREAN, '--backend', 'wasm', '--json');
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.ok(Number.isFinite(JSON.parse(evaluated.stdout).loss));
    const further = cli(
      'finetune',
      checkpoint,
      QA,
      '--lora',
      '--max-steps',
      '1',
      '--context',
      '128',
      '--batch',
      '2',
      '--backend',
      'wasm',
      '-o',
      join(root, 'further'),
    );
    assert.equal(further.status, 0, further.stderr);
    const merged = cli('merge', checkpoint, '-o', join(root, 'merged'));
    assert.equal(merged.status, 0, merged.stderr);
    assert.equal(JSON.parse(readFileSync(join(root, 'merged', 'config.json'), 'utf8')).model_type, 'qwen2');
  },
);

test(
  "export-torch of LoRA fine-tunes of a GPT-2 run on a text (replaying its base's text) and of a Llama folder on a folder of documents: train_peft.py continues both with our losses; --with-base carries the base",
  { skip: SKIP },
  async () => {
    const root = tempDir('corpus-lab-peft-export-gpt2-');
    // GPT-2 (Conv1D, PEFT's fan_in_fan_out): a Corpus Lab run as the base, a LoRA fine-tune on a text.
    const gpt2: TrainRequest = { ...TINY_MODEL, threads: 1, corpusPath: ENGLISH, maxSteps: 2, runDir: join(root, 'gpt2') };
    await trainLosses(gpt2);
    // Fine-tuned on another text than its base's, so its held-out loss and its base's (forgetting) differ.
    const laterText = join(root, 'later.txt');
    writeFileSync(laterText, readFileSync(ENGLISH, 'utf8').slice(40_000, 60_000));
    const docs = koreanDocuments(root);
    const cases: { name: string; req: FinetuneRequest }[] = [
      {
        name: 'gpt2-text',
        req: { basePath: join(root, 'gpt2'), corpusPath: laterText, lora: true, rank: 4, rslora: true, replay: 0.5, batch: 4, maxSteps: 5 },
      },
      {
        name: 'llama-documents',
        req: { basePath: join(REPO, 'test/fixtures/hf-llama/llama'), corpusPath: docs, lora: true, context: 32, batch: 2, maxSteps: 5 },
      },
    ];
    for (const { name, req } of cases) {
      const common = { ...req, backend: 'wasm' as const, threads: 1 };
      const reference = await finetune({ ...common, runDir: join(root, `${name}-reference`) });
      await finetune({ ...common, runDir: join(root, name) }, 2);
      const exp = join(root, `${name}-exp`);
      const result = exportTorch(join(root, name), exp, { withBase: true });
      assert.ok('base' in result && result.base.copied && result.data === 'tokens', name);
      // The GPT-2 run replays half its rows from its base's own text: that text goes along.
      assert.equal(existsSync(join(exp, 'replay.bin')), name === 'gpt2-text', name);
      // The base travels in base/: train_peft.py finds it there when the laptop's path is gone.
      const away = `${result.base.path}-away`;
      const moved = result.base.path.startsWith(root);
      if (moved) renameSync(result.base.path, away);
      const torchRun = join(root, `${name}-torch`);
      const r = script(exp, ['--out', torchRun]);
      if (moved) renameSync(away, result.base.path);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.events[0].base, join(exp, 'base'));
      const losses = stepLosses(r.events);
      assert.deepEqual([...losses.keys()], [3, 4, 5], name);
      assertClose(losses, reference, [3], 1e-4, `${name}: first step after the export`);
      assertClose(losses, reference, [4, 5], 1e-3, `${name}: later steps`);
      // Its evaluations carry what Corpus Lab's do: the loss on the base's own held-out text when the base
      // run's corpus is known (the GPT-2 run's), and a sample; the chart reads them from the run's metrics.
      const laptopEvals = evalsAfter(readMetrics(join(root, `${name}-reference`)), 2);
      const torchEvals = evalsAfter(readMetrics(torchRun), 2);
      assert.deepEqual(
        torchEvals.map((e) => e.step),
        laptopEvals.map((e) => e.step),
        name,
      );
      assert.equal(existsSync(join(exp, 'base-val.bin')), name === 'gpt2-text', name);
      const forgetting = (evals: Record<string, unknown>[]) => new Map(evals.map((e) => [e.step as number, e.base_val_loss as number]));
      if (name === 'gpt2-text') assertClose(forgetting(torchEvals), forgetting(laptopEvals), [3, 4, 5], 1e-3, `${name}: base_val_loss`);
      else assert.ok(torchEvals.every((e) => e.base_val_loss === undefined) && laptopEvals.every((e) => e.base_val_loss === undefined));
      const rows = metricRows(readMetrics(torchRun)).filter((m) => m.step > 2 && m.val_loss !== undefined);
      assert.equal(rows.filter((m) => m.base_val_loss !== undefined).length, name === 'gpt2-text' ? 3 : 0, name);
      for (const [i, e] of torchEvals.entries()) {
        assert.ok(typeof e.sample === 'string' && e.sample.length > 0, `${name}: a sample at step ${e.step}`);
        assert.equal(e.sample, laptopEvals[i].sample, `${name}: the sample Corpus Lab draws at step ${e.step}`);
      }
    }
  },
);

test(
  'export-torch of a LoRA run: what train_peft.py cannot continue, or a base or folder that is not the one exported, is refused in one line and nothing is written',
  {
    skip: SKIP,
  },
  async () => {
    const root = tempDir('corpus-lab-peft-export-refused-');
    const base = qwen2WithTemplate(root);
    const run = join(root, 'run');
    const trained = cli(
      'finetune',
      base,
      QA,
      '--lora',
      '--max-steps',
      '1',
      '--batch',
      '2',
      '--context',
      '128',
      '--backend',
      'wasm',
      '-o',
      run,
    );
    assert.equal(trained.status, 0, trained.stderr);
    const oneLine = (r: { status: number | null; stderr: string }, re: RegExp, what: string) => {
      assert.equal(r.status, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    };

    // --with-base is for LoRA runs.
    const full = join(root, 'full');
    assert.equal(
      cli('finetune', base, QA, '--max-steps', '1', '--batch', '2', '--context', '128', '--backend', 'wasm', '-o', full).status,
      0,
    );
    oneLine(
      cli('export-torch', full, '-o', join(root, 'e2'), '--with-base'),
      /--with-base copies the base model of a LoRA fine-tune/,
      '--with-base',
    );
    assert.ok(!existsSync(join(root, 'e2')));

    const exp = join(root, 'exp');
    assert.equal(cli('export-torch', run, '-o', exp).status, 0);
    oneLine(cli('export-torch', run, '-o', exp), /not empty|exists/, 'an existing export is not overwritten');
    const more = ['--max-steps', '2', '--out', join(root, 'torch')];
    // A damaged copy of the export.
    const damaged = join(root, 'damaged');
    cpSync(exp, damaged, { recursive: true });
    truncateSync(join(damaged, 'train-ids.bin'), 8);
    oneLine(script(damaged, more), /train-ids\.bin is damaged or half-copied/, 'damaged');
    // Another base than the adapter's.
    const other = join(root, 'other');
    cpSync(base, other, { recursive: true });
    writeFileSync(join(other, 'model.safetensors.index.json'), readFileSync(join(other, 'model.safetensors.index.json'), 'utf8') + ' ');
    oneLine(script(exp, [...more, '--base', other]), /is not the base model this adapter was trained on/, 'another base');
    // The base is not on this machine.
    renameSync(base, `${base}-away`);
    oneLine(script(exp, more), /the base model is not here .*--base DIR/, 'no base');
    renameSync(`${base}-away`, base);
    assert.ok(!existsSync(join(root, 'torch')), 'nothing is written');
    // A step budget already reached.
    oneLine(script(exp, ['--max-steps', '1', '--out', join(root, 'torch')]), /already at step 1 of 1/, 'no steps left');
    assert.ok(!existsSync(join(root, 'torch')), 'nothing is written');
  },
);

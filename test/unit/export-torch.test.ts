import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrainRequest } from '../../src/worker/jobs/train-job';
import { runEvalJob } from '../../src/worker/jobs/eval-job';
import { FinetuneRequest } from '../../src/worker/jobs/finetune-job';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { listCheckpoints, readCheckpoint, resolveCheckpoint } from '../../src/core/checkpoint';
import { readMetrics } from '../../src/core/metrics';
import { hfSideFiles } from '../../src/core/hf-export';
import { listRuns } from '../../src/core/runs';
import { compareRuns } from '../../src/core/compare-runs';
import { parseRunJson } from '../../src/core/run-json';
import { Tokenizer } from '../../src/core/tokenizer';
import { parseWorkerRequest } from '../../src/worker/protocol';
import { CLI, ENGLISH, REPO, TINY_MODEL, koreanDocuments, tempDir } from './helpers';
import { assertClose, finetuneLosses, stepLosses, trainLosses as train } from './loss-curves';

const PYTHON = '/usr/bin/python3';
const QA = join(REPO, 'test/fixtures/sft/constitution-qa-ko.jsonl');
const DATA_NAMES = {
  text: 'a text (32-token windows)',
  documents: 'a folder of documents (32-token windows)',
  examples: 'Korean Q&A examples (.jsonl, loss on the answers)',
};
// Debian's torch 1.13 launcher under Python 3.11 crashes on its default --redirects/--tee "0"
// (Std.from_str finds no member for 0); a per-rank map for a rank that does not exist means the same.
const TORCHRUN = ['-m', 'torch.distributed.run', '--monitor_interval', '0.5', '--redirects', '9:0', '--tee', '9:0'];

function torchMissing(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status !== 0;
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

function script(exportDir: string, args: string[], nproc?: number) {
  const argv = nproc
    ? [...TORCHRUN, '--nproc_per_node', String(nproc), join(exportDir, 'train.py'), ...args]
    : [join(exportDir, 'train.py'), ...args];
  const r = spawnSync(PYTHON, argv, { encoding: 'utf8', timeout: 300_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, number | string>);
  return { ...r, events };
}

/**
 * The held-out ids validation scores, from the export's uint16 little-endian val.bin: its whole
 * context windows (eval scores every token of a file, so it is given just these to compare).
 */
function validatedIds(exportDir: string): number[] {
  const bytes = readFileSync(join(exportDir, 'val.bin'));
  const ids = Array.from({ length: bytes.length / 2 }, (_, i) => bytes.readUInt16LE(2 * i));
  return ids.slice(0, Math.floor((ids.length - 1) / TINY_MODEL.context) * TINY_MODEL.context + 1);
}

/** A corpus of 340 characters: 5 steps per epoch at batch 4 and context 16, so a few steps cross epochs. */
function smallCorpus(root: string): string {
  const path = join(root, 'small.txt');
  writeFileSync(path, readFileSync(ENGLISH, 'utf8').slice(0, 340));
  return path;
}

test("export-torch: train.py continues a run mid-training with Corpus Lab's losses, on 1 and 2 ranks; its run opens, evaluates and resumes in Corpus Lab", async (t) => {
  if (torchMissing()) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  const root = tempDir('corpus-lab-torch-');
  const corpus = smallCorpus(root);
  const base: TrainRequest = { ...TINY_MODEL, threads: 1, corpusPath: corpus, maxSteps: 9 };
  const reference = await train({ ...base, runDir: join(root, 'reference') });
  await train({ ...base, runDir: join(root, 'laptop') }, 3);

  const exp = join(root, 'exp');
  const out = cli('export-torch', join(root, 'laptop'), '-o', exp, '--json');
  assert.equal(out.status, 0, out.stderr);
  const summary = JSON.parse(out.stdout);
  assert.deepEqual([summary.step, summary.total_steps, summary.token_dtype], [3, 9, 'uint16']);
  assert.equal(statSync(join(exp, 'train.bin')).size, summary.train_tokens * 2);
  assert.equal(statSync(join(exp, 'val.bin')).size, summary.val_tokens * 2);
  for (const f of ['train.py', 'README.md', 'plan.json', 'tokenizer.json', 'checkpoints/step-00000003/optimizer.safetensors'])
    assert.ok(existsSync(join(exp, f)), f);
  const plan = JSON.parse(readFileSync(join(exp, 'plan.json'), 'utf8'));
  assert.deepEqual([plan.start.step, plan.plan.totalSteps, plan.lr_schedule.warmupSteps], [3, 9, 0]);
  assert.equal(cli('export-torch', join(root, 'laptop'), '-o', exp).status, 2, 'a non-empty folder is refused');

  // One process: the steps after the export are the ones Corpus Lab computed (crossing epoch 1 → 2 at step 5).
  const one = script(exp, ['--device', 'cpu', '--out', join(root, 'torch-1')]);
  assert.equal(one.status, 0, one.stderr);
  const oneLosses = stepLosses(one.events);
  assert.deepEqual([...oneLosses.keys()], [4, 5, 6, 7, 8, 9]);
  assertClose(oneLosses, reference, [4], 1e-5, 'first step after the export');
  assertClose(oneLosses, reference, [5, 6, 7, 8, 9], 1e-4, 'later steps');
  // Each checkpoint train.py writes is a whole Hugging Face folder: the tokenizer and generation configs as Corpus Lab writes them.
  const ours = hfSideFiles(
    readCheckpoint(join(exp, 'checkpoints', 'step-00000003'), { withOptimizer: false }).config,
    readFileSync(join(exp, 'tokenizer.json'), 'utf8'),
  );
  for (const { dir } of listCheckpoints(join(root, 'torch-1')))
    for (const [file, text] of Object.entries(ours)) assert.equal(readFileSync(join(dir, file), 'utf8'), text, `${dir}/${file}`);

  // Two gloo ranks, one sequence per pass (two passes of gradient accumulation each): the same global batch.
  const run = join(root, 'runs', 'torch-2');
  const two = script(exp, ['--device', 'cpu', '--batch', '1', '--out', run], 2);
  assert.equal(two.status, 0, two.stderr);
  assertClose(stepLosses(two.events), oneLosses, [4, 5, 6, 7, 8, 9], 1e-5, '2 ranks vs 1');

  // The run folder is a Corpus Lab run: listed, with its checkpoints and the whole history of metrics.
  const [listed] = await listRuns(join(root, 'runs'));
  assert.equal(listed.status, 'completed');
  assert.deepEqual(
    listed.checkpoints.map((c) => [c.name, c.step]),
    [
      ['epoch-0001', 5],
      ['step-00000009', 9],
    ],
  );
  assert.deepEqual(
    readMetrics(run)
      .filter((m) => m.type === 'step')
      .map((m) => m.step),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );

  // eval of its checkpoint over the held-out text equals the script's own evaluation.
  const tokenizer = Tokenizer.fromJSON(readFileSync(join(exp, 'tokenizer.json'), 'utf8'));
  const valText = join(root, 'val.txt');
  writeFileSync(valText, tokenizer.decode(validatedIds(exp)));
  const state = JSON.parse(readFileSync(join(run, 'checkpoints', 'step-00000009', 'trainer_state.json'), 'utf8'));
  const evaluated = cli('eval', run, valText, '--json', '--backend', 'wasm');
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.ok(
    Math.abs(JSON.parse(evaluated.stdout).loss - state.val_loss) < 1e-5,
    `eval ${evaluated.stdout} vs the script's ${state.val_loss}`,
  );

  // resume on the laptop continues it as it continues Corpus Lab's own run.
  const resumed = cli('train', corpus, '--resume', run, '--max-steps', '11', '--threads', '1', '--backend', 'wasm', '--json');
  assert.equal(resumed.status, 0, resumed.stderr);
  const laptopMore = await train({ ...base, maxSteps: 11, resume: join(root, 'reference') });
  const resumedLosses = stepLosses(
    resumed.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  );
  assertClose(resumedLosses, laptopMore, [10, 11], 1e-4, 'resumed on the laptop');

  // A half-written checkpoint (a crash before the rename) is not a checkpoint.
  const half = join(run, 'checkpoints', '.step-00000012.tmp-999999-ab12cd34');
  mkdirSync(half);
  cpSync(join(run, 'checkpoints', 'step-00000011', 'trainer_state.json'), join(half, 'trainer_state.json'));
  writeFileSync(join(half, 'model.safetensors'), Buffer.alloc(100));
  assert.equal(resolveCheckpoint(run), join(run, 'checkpoints', 'step-00000011'));
  // Epoch-end checkpoints are bounded by steps and time, so the short laptop resume writes only its final one.
  assert.deepEqual(
    listCheckpoints(run).map((c) => c.step),
    [5, 9, 11],
  );

  // A damaged checkpoint written by the script is refused like any other.
  const damaged = join(run, 'checkpoints', 'step-00000009', 'model.safetensors');
  truncateSync(damaged, statSync(damaged).size - 8);
  const refused = cli('eval', join(run, 'checkpoints', 'step-00000009'), valText);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /model\.safetensors: .*(data buffer|bytes)/);

  // A damaged or half-copied export is refused before training, naming the file.
  const copy = join(root, 'exp-damaged');
  cpSync(exp, copy, { recursive: true });
  const exported = join(copy, 'checkpoints', 'step-00000003', 'model.safetensors');
  truncateSync(exported, statSync(exported).size - 4);
  const bad = script(copy, ['--device', 'cpu']);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /model\.safetensors is damaged or half-copied/);
  assert.ok(!existsSync(join(copy, 'run')), 'nothing is written');

  // export-torch reads the source checkpoint as untrusted input.
  const source = join(root, 'laptop', 'checkpoints', 'step-00000003', 'optimizer.safetensors');
  truncateSync(source, 10);
  const refusedExport = cli('export-torch', join(root, 'laptop'), '-o', join(root, 'exp-2'));
  assert.equal(refusedExport.status, 2);
  assert.match(refusedExport.stderr, /optimizer\.safetensors/);
  assert.ok(!existsSync(join(root, 'exp-2')));
});

test('export-torch: a Dynamic Tanh model without biases continues in PyTorch and comes back', async (t) => {
  if (torchMissing()) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  const root = tempDir('corpus-lab-torch-dyt-');
  const base: TrainRequest = { ...TINY_MODEL, threads: 1, norm: 'dyt', bias: false, corpusPath: smallCorpus(root), maxSteps: 4 };
  const reference = await train({ ...base, runDir: join(root, 'reference') });
  await train({ ...base, runDir: join(root, 'laptop') }, 2);
  const exp = join(root, 'exp');
  exportTorch(join(root, 'laptop'), exp);

  const run = join(root, 'torch');
  const r = script(exp, ['--device', 'cpu', '--out', run]);
  assert.equal(r.status, 0, r.stderr);
  const losses = stepLosses(r.events);
  assertClose(losses, reference, [3], 1e-5, 'first step after the export');
  assertClose(losses, reference, [4], 1e-4, 'next step');

  // The biases are written as zeros (a GPT-2 folder) and read back as a model without them.
  const ckpt = readCheckpoint(join(run, 'checkpoints', 'step-00000004'), { withOptimizer: true });
  assert.deepEqual([ckpt.config.norm, ckpt.config.bias], ['dyt', false]);
  assert.ok(ckpt.weights.has('transformer.h.0.ln_1.alpha'));
  assert.ok(!ckpt.weights.has('transformer.h.0.attn.c_attn.bias'));
  const tokenizer = Tokenizer.fromJSON(ckpt.tokenizerJson);
  const valText = join(root, 'val.txt');
  writeFileSync(valText, tokenizer.decode(validatedIds(exp)));
  const evaluated = await runEvalJob(run, valText, 'wasm');
  assert.ok(
    Math.abs(evaluated.loss - (ckpt.trainerState.val_loss as number)) < 1e-5,
    `eval ${evaluated.loss} vs ${ckpt.trainerState.val_loss}`,
  );

  // Running again with a larger budget continues the run folder from its newest checkpoint.
  const again = script(exp, ['--device', 'cpu', '--out', run, '--max-steps', '5']);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual([...stepLosses(again.events).keys()], [5]);
  const bigger = await train({ ...base, maxSteps: 5, resume: join(root, 'reference') });
  assertClose(stepLosses(again.events), bigger, [5], 1e-4, 'continued run folder');
});

test('export-torch: a run of Llama blocks (RMSNorm, rotary positions, grouped-query attention, SwiGLU) continues in PyTorch with its losses and comes back', async (t) => {
  if (torchMissing()) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  const root = tempDir('corpus-lab-torch-llama-');
  const base: TrainRequest = { ...TINY_MODEL, layers: 2, heads: 4, arch: 'llama', threads: 1, corpusPath: smallCorpus(root), maxSteps: 7 };
  const reference = await train({ ...base, runDir: join(root, 'reference') });
  await train({ ...base, runDir: join(root, 'laptop') }, 3);
  const exp = join(root, 'exp');
  exportTorch(join(root, 'laptop'), exp);

  const run = join(root, 'torch');
  const r = script(exp, ['--device', 'cpu', '--out', run]);
  assert.equal(r.status, 0, r.stderr);
  const losses = stepLosses(r.events);
  assert.deepEqual([...losses.keys()], [4, 5, 6, 7]);
  assertClose(losses, reference, [4], 1e-5, 'first step after the export');
  assertClose(losses, reference, [5, 6, 7], 1e-4, 'later steps (crossing into epoch 2 at step 5)');

  // Its checkpoints are LlamaForCausalLM folders that Corpus Lab reads, evaluates and resumes.
  const ckpt = readCheckpoint(join(run, 'checkpoints', 'step-00000007'), { withOptimizer: true });
  assert.deepEqual([ckpt.config.llama!.kvHeads, ckpt.config.llama!.headDim], [2, 8]);
  assert.equal(JSON.parse(readFileSync(join(run, 'checkpoints', 'step-00000007', 'config.json'), 'utf8')).model_type, 'llama');
  const tokenizer = Tokenizer.fromJSON(ckpt.tokenizerJson);
  const valText = join(root, 'val.txt');
  writeFileSync(valText, tokenizer.decode(validatedIds(exp)));
  const evaluated = await runEvalJob(run, valText, 'wasm');
  assert.ok(
    Math.abs(evaluated.loss - (ckpt.trainerState.val_loss as number)) < 1e-5,
    `eval ${evaluated.loss} vs ${ckpt.trainerState.val_loss}`,
  );
  const more = await train({ ...base, maxSteps: 8, resume: run, runDir: undefined });
  const bigger = await train({ ...base, maxSteps: 8, resume: join(root, 'reference') });
  assertClose(more, bigger, [8], 1e-4, 'resumed in Corpus Lab');
});

for (const [family, data] of [
  ['llama', 'text'],
  ['qwen2', 'text'],
  ['qwen3', 'text'],
  ['llama', 'documents'],
  ['qwen2', 'examples'],
] as const)
  test(`export-torch: full fine-tuning of a Hugging Face ${family} folder on ${DATA_NAMES[data]} continues in PyTorch with Corpus Lab's losses`, async (t) => {
    if (torchMissing()) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
    // llama: Llama 3 rotary scaling and an own lm_head; qwen2: q/k/v biases, BF16 shards; qwen3: q/k norms.
    const root = tempDir(`corpus-lab-torch-${family}-`);
    const req: FinetuneRequest = {
      basePath: data === 'examples' ? withChatTemplate(root, family) : join(REPO, 'test/fixtures/hf-llama', family),
      corpusPath: data === 'text' ? join(REPO, 'media/samples/constitution-ko.txt') : data === 'examples' ? QA : koreanDocuments(root),
      context: data === 'examples' ? 128 : 32,
      batch: 2,
      maxSteps: 6,
      backend: 'wasm',
      threads: 1,
    };
    const finetune = (runDir: string, stopAfter?: number) => finetuneLosses({ ...req, runDir }, stopAfter);
    const reference = await finetune(join(root, 'reference'));
    await finetune(join(root, 'laptop'), 4);
    const exp = join(root, 'exp');
    exportTorch(join(root, 'laptop'), exp);
    const r = script(exp, ['--device', 'cpu', '--out', join(root, 'torch')]);
    assert.equal(r.status, 0, r.stderr);
    const losses = stepLosses(r.events);
    assert.deepEqual([...losses.keys()], [5, 6]);
    assertClose(losses, reference, [5], 1e-5, 'first step after the export');
    assertClose(losses, reference, [6], 1e-4, 'next step');
    if (data !== 'examples') return;
    // Examples one per row, padded, the loss on the answers only (labels -100 elsewhere): held out the same way,
    // and 2 gloo ranks (one row per pass) take the mean over the whole batch's trained tokens as one does.
    const plan = JSON.parse(readFileSync(join(exp, 'plan.json'), 'utf8'));
    assert.equal(plan.data.kind, 'examples');
    assertClose(validationCurve(r.events), validationCurve(readMetrics(join(root, 'reference'))), [6], 1e-4, 'held-out loss');
    const two = script(exp, ['--device', 'cpu', '--batch', '1', '--out', join(root, 'torch-2')], 2);
    assert.equal(two.status, 0, two.stderr);
    assertClose(stepLosses(two.events), losses, [5, 6], 1e-5, '2 ranks vs 1');
  });

/** A copy of a fixture folder with a ChatML template, as Qwen's (conversations are rendered with it). */
function withChatTemplate(root: string, family: string): string {
  const dir = join(root, family);
  cpSync(join(REPO, 'test/fixtures/hf-llama', family), dir, { recursive: true });
  cpSync(join(REPO, 'test/fixtures/sft/chatml.jinja'), join(dir, 'chat_template.jinja'));
  return dir;
}

/** The run at `dir` as the Compare panel sees it (its best validation against its unigram baseline). */
function compared(dir: string) {
  const run = parseRunJson(readFileSync(join(dir, 'run.json'), 'utf8'), dir);
  return compareRuns([{ name: dir, dir, run, metrics: readMetrics(dir) }]).runs[0];
}

const validationCurve = (records: Record<string, unknown>[]) =>
  new Map(records.filter((e) => e.type === 'eval').map((e) => [e.step as number, e.val_loss as number]));

test('Dynamic Tanh learns a small Korean text (tiny width), and its PyTorch twin from the same start follows the same validation curve', async (t) => {
  const root = tempDir('corpus-lab-dyt-twin-');
  const base: TrainRequest = {
    // The tiny preset's width, context and batch, as the experiment trains them; two layers for time.
    ...{ layers: 2, heads: 4, width: 128, context: 64, batch: 12, backend: 'wasm', threads: 1, seed: 1337, norm: 'dyt' },
    ...{ corpusPath: join(REPO, 'test/fixtures/speech-ko.txt'), maxSteps: 150, evalEvery: 50 },
  };
  const ours = join(root, 'ours');
  await train({ ...base, runDir: ours });
  const learned = compared(ours);
  assert.ok(
    !learned.didNotLearn && learned.best!.bitsPerChar < 0.85 * learned.unigramBitsPerChar!,
    `best ${learned.best?.bitsPerChar} bits/char against the unigram baseline's ${learned.unigramBitsPerChar}`,
  );

  if (torchMissing()) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  await train({ ...base, runDir: join(root, 'start') }, 1);
  const exp = join(root, 'exp');
  exportTorch(join(root, 'start'), exp);
  const twin = join(root, 'twin');
  const r = script(exp, ['--device', 'cpu', '--out', twin]);
  assert.equal(r.status, 0, r.stderr);
  // The same model, start and data: the same losses until float rounding, amplified by training
  // (wasm against PyTorch), moves them apart; the validation curves stay together.
  assertClose(stepLosses(r.events), stepLosses(readMetrics(ours)), [2, 5, 10, 20], 1e-3, 'first steps in PyTorch');
  const theirs = validationCurve(r.events);
  const mine = validationCurve(readMetrics(ours));
  const common = [...theirs.keys()].filter((s) => mine.has(s));
  assert.ok(common.length >= 3 && common.includes(150), `evaluated at the same steps: ${common.join(', ')}`);
  for (const step of common)
    assert.ok(
      Math.abs(theirs.get(step)! - mine.get(step)!) < 0.2,
      `step ${step}: PyTorch ${theirs.get(step)}, Corpus Lab ${mine.get(step)}`,
    );
  assert.ok(Math.abs(theirs.get(150)! - mine.get(150)!) < 0.1);
  assert.ok(!compared(twin).didNotLearn);
});

test('export-torch writes a LoRA run (any data) for train_peft.py and a full fine-tune on documents or .jsonl examples for train.py', () => {
  const root = tempDir('corpus-lab-torch-refused-');
  const qwen2 = join(root, 'qwen2');
  cpSync(join(REPO, 'test/fixtures/hf-llama/qwen2'), qwen2, { recursive: true });
  cpSync(join(REPO, 'test/fixtures/sft/chatml.jinja'), join(qwen2, 'chat_template.jinja'));
  const docs = join(root, 'docs');
  mkdirSync(docs);
  cpSync(ENGLISH, join(docs, 'a.txt'));
  const cases = [
    { name: 'lora-text', data: ENGLISH, extra: ['--lora'], script: 'train_peft.py' },
    { name: 'lora-examples', data: QA, extra: ['--lora'], script: 'train_peft.py' },
    { name: 'lora-documents', data: docs, extra: ['--lora'], script: 'train_peft.py' },
    { name: 'documents', data: docs, extra: [], script: 'train.py' },
    { name: 'examples', data: QA, extra: [], script: 'train.py' },
  ];
  for (const c of cases) {
    const run = join(root, c.name);
    const trained = cli(
      'finetune',
      qwen2,
      c.data,
      ...c.extra,
      '--max-steps',
      '1',
      '--batch',
      '2',
      '--context',
      '64',
      '--backend',
      'wasm',
      '-o',
      run,
    );
    assert.equal(trained.status, 0, trained.stderr);
    const out = join(root, `${c.name}-export`);
    const r = cli('export-torch', run, '-o', out, '--json');
    assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.script, c.script, c.name);
    assert.ok(existsSync(join(out, c.script)), c.name);
    if (c.name === 'documents') {
      // The documents' ids with their end-of-text separators, split per document as the run split them.
      assert.equal(statSync(join(out, 'train.bin')).size, summary.train_tokens * 2);
      assert.equal(statSync(join(out, 'val.bin')).size, summary.val_tokens * 2);
    }
    if (c.name === 'examples') {
      // One per row, as the LoRA export writes them: ids padded with 0, labels -100 where not trained.
      assert.equal(summary.data, 'examples');
      const { rows, width } = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')).data.train;
      assert.equal(statSync(join(out, 'train-labels.bin')).size, rows * width * 4);
    }
  }
});

test('export-torch through the worker protocol: the request is checked on receipt', () => {
  assert.equal(typeof parseWorkerRequest({ kind: 'export-torch', id: 1, source: '/runs/a' }), 'string');
  assert.deepEqual(parseWorkerRequest({ kind: 'export-torch', id: 1, source: '/runs/a', outDir: '/tmp/a-torch' }), {
    kind: 'export-torch',
    id: 1,
    source: '/runs/a',
    outDir: '/tmp/a-torch',
  });
});

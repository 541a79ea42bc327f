import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openSync, readFileSync, readdirSync, closeSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { runFinetuneJob } from '../../src/worker/jobs/finetune-job';
import { readMetrics } from '../../src/core/metrics';
import { readRunJson } from '../../src/core/run-json';
import { TrainEvent } from '../../src/core/train-events';
import { ENGLISH, TINY_MODEL, tempDir } from './helpers';

// A fine-tune on a text file prepares it streamed into the cache (progress, Cancel) as `train` does,
// instead of reading it whole (which refused a text over 64 MB).
const root = tempDir('corpus-lab-ft-text-stream-');
process.env.CORPUS_LAB_CACHE = join(root, 'cache');
const text = readFileSync(ENGLISH, 'utf8');
const baseText = join(root, 'base.txt');
writeFileSync(baseText, text.slice(0, 30_000));
const small = join(root, 'small.txt');
writeFileSync(small, text.slice(30_000, 40_000));
const base = join(root, 'base');

type Prepare = Extract<TrainEvent, { type: 'prepare' }>;
const preparing = (events: TrainEvent[], bytes: number) =>
  events.filter((e): e is Prepare => e.type === 'prepare' && e.phase === 'read' && e.total === bytes);

async function finetune(name: string, corpusPath: string, shouldStop: (events: TrainEvent[]) => boolean = () => false) {
  const events: TrainEvent[] = [];
  const runDir = join(root, name);
  const req = { basePath: base, corpusPath, batch: 4, maxSteps: 3, backend: 'wasm' as const, threads: 1, runDir };
  const result = await runFinetuneJob(
    req,
    (e) => events.push(e),
    () => shouldStop(events),
  );
  return { events, result, runDir };
}

test('base run', async () => {
  await runTrainJob(
    { ...TINY_MODEL, threads: 1, corpusPath: baseText, maxSteps: 2, runDir: base },
    () => undefined,
    () => false,
  );
});

test('a small text fine-tunes from its streamed preparation with the tokens, split and losses it had read whole', async () => {
  const { events, result, runDir } = await finetune('small', small);
  assert.equal(result.reason, 'completed');
  const bytes = Buffer.byteLength(text.slice(30_000, 40_000));
  const run = readRunJson(runDir);
  // Recorded from the in-memory path (readCorpus + encodeAll) before the change.
  assert.deepEqual(
    { trainTokens: run.plan.trainTokens, valTokens: run.plan.valTokens, steps: run.plan.totalSteps, sha256: run.corpus.sha256 },
    EXPECTED_PLAN,
  );
  // Every metric but the timings: baselines, losses, held-out and base losses, samples.
  const metrics = readMetrics(runDir).map(({ elapsed_s: _e, tokens_per_s: _t, ...rest }) => rest);
  assert.deepEqual(metrics, EXPECTED_METRICS);
  assert.ok(preparing(events, bytes).length > 0, 'its preparation showed progress');
});

test('a text over 64 MB fine-tunes', async () => {
  const big = join(root, 'big.txt');
  const piece = Buffer.from(text.slice(0, 1 << 20));
  const fd = openSync(big, 'w');
  let bytes = 0;
  while (bytes <= 64 << 20) bytes += writeSync(fd, piece);
  closeSync(fd);
  const { events, result, runDir } = await finetune('big', big);
  assert.equal(result.reason, 'completed', JSON.stringify(events.filter((e) => e.type !== 'prepare')));
  assert.ok(preparing(events, bytes).length > 0);
  const run = readRunJson(runDir);
  assert.equal(run.corpus.bytes, bytes);
  assert.ok(run.plan.trainTokens + run.plan.valTokens > 64 << 20);
  const evals = events.filter((e) => e.type === 'eval') as { base_val_loss?: number }[];
  assert.ok(evals.length > 0 && evals.every((e) => typeof e.base_val_loss === 'number'), 'the forgetting meter ran');
});

test('Cancel while the text is prepared trains nothing and leaves no half-prepared folder', async () => {
  const other = join(root, 'other.txt');
  writeFileSync(other, text.slice(45_000, 55_000));
  const bytes = Buffer.byteLength(text.slice(45_000, 55_000));
  const cacheBefore = readdirSync(join(root, 'cache', 'prepared')).sort();
  const { events, result, runDir } = await finetune('cancelled', other, (ev) => preparing(ev, bytes).length > 0);
  assert.equal(result.reason, 'cancelled');
  const notices = events.filter((e) => e.type === 'notice').map((e) => (e as { message: string }).message);
  assert.ok(
    notices.some((m) => /was cancelled; nothing was trained/.test(m)),
    notices.join('\n'),
  );
  assert.ok(!events.some((e) => e.type === 'step'), 'no step trained');
  assert.deepEqual(readdirSync(join(root, 'cache', 'prepared')).sort(), cacheBefore, 'nothing half-prepared left');
  assert.ok(!existsSync(join(runDir, 'checkpoints')) || readdirSync(join(runDir, 'checkpoints')).length === 0);
});

const EXPECTED_PLAN = {
  trainTokens: 9000,
  valTokens: 1000,
  steps: 3,
  sha256: '10d8d97510a4ae3a5ab45a7ddfea2c0f5fff2d49d9da25a965e042766c5e8e69',
};
const EXPECTED_METRICS: unknown[] = [
  {
    type: 'baselines',
    uniform_loss: 4.07753744390572,
    unigram_bits_per_char: 4.812653504095377,
    gzip_bits_per_byte: 4.661290322580645,
    val_tokens: 992,
    val_chars: 992,
    val_bytes: 992,
    init_val_loss: 4.0513493014920146,
  },
  { type: 'step', step: 1, epoch: 1, loss: 4.0386223793029785, lr: 0.0001, grad_norm: 1.8991365432739258 },
  {
    type: 'eval',
    step: 1,
    epoch: 1,
    loss: 4.0386223793029785,
    val_loss: 4.048330983807964,
    base_val_loss: 4.045760834217072,
    val_bits_per_char: 5.8405070342168885,
    val_bits_per_byte: 5.8405070342168885,
    sample: '\nNdIRwWFILuDOTVNmmj:Re fGGLnjogaqGOx:FgCoW?qPfy?',
  },
  { type: 'step', step: 2, epoch: 1, loss: 4.0384697914123535, lr: 0.0000775, grad_norm: 1.593492865562439 },
  {
    type: 'eval',
    step: 2,
    epoch: 1,
    loss: 4.0384697914123535,
    val_loss: 4.046115690662015,
    base_val_loss: 4.04331157207489,
    val_bits_per_char: 5.837311041781112,
    val_bits_per_byte: 5.837311041781112,
    sample: '\n;pVUyoNiEEYvFRqD-DYstVkY;\n !EqB::yO.xR;OIdNpBhu',
  },
  { type: 'step', step: 3, epoch: 1, loss: 4.067293643951416, lr: 0.00003250000000000001, grad_norm: 1.9463576078414917 },
  {
    type: 'eval',
    step: 3,
    epoch: 1,
    loss: 4.067293643951416,
    val_loss: 4.0451762445511354,
    base_val_loss: 4.042256653308868,
    val_bits_per_char: 5.835955707535764,
    val_bits_per_byte: 5.835955707535764,
    sample: "Wi s;Y'h'EPSSJjY?tJNW;qBc-??risHwMV.\nm.!iRhb Bzd",
  },
];

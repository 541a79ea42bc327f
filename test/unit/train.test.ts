import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTrainJob, TrainRequest } from '../../src/worker/jobs/train-job';
import { runEvalJob } from '../../src/worker/jobs/eval-job';
import { loadModel } from '../../src/worker/jobs/load-model';
import { generate } from '../../src/worker/model/generator';
import { TrainEvent } from '../../src/core/train-events';
import { readMetrics } from '../../src/core/metrics';
import { isUserError } from '../../src/core/errors';
import { ENGLISH, KOREAN, TINY_MODEL, tempDir } from './helpers';

const SMALL = TINY_MODEL;

async function trainCollect(req: TrainRequest, stopAfter?: number) {
  const events: TrainEvent[] = [];
  let steps = 0;
  const result = await runTrainJob(
    req,
    (e) => {
      events.push(e);
      if (e.type === 'step') steps = e.step;
    },
    () => stopAfter !== undefined && steps >= stopAfter,
  );
  const losses = events.flatMap((e) => (e.type === 'step' ? [[e.step, e.loss] as const] : []));
  return { result, events, losses };
}

test('same seed, same losses (with dropout); a resumed run repeats the uninterrupted losses exactly', async () => {
  const root = tempDir();
  try {
    const base: TrainRequest = { ...SMALL, dropout: 0.1, corpusPath: ENGLISH, maxSteps: 24, evalEvery: 8 };
    const a = await trainCollect({ ...base, runDir: join(root, 'a') });
    const b = await trainCollect({ ...base, runDir: join(root, 'b') });
    assert.equal(a.losses.length, 24);
    assert.deepEqual(b.losses, a.losses);
    assert.ok(a.losses[23][1] < a.losses[0][1], 'loss should fall');

    const c = await trainCollect({ ...base, runDir: join(root, 'c') }, 10);
    assert.equal(c.result.reason, 'cancelled');
    assert.equal(c.result.step, 10);
    assert.ok(existsSync(join(root, 'c', 'checkpoints', 'step-00000010', 'model.safetensors')));
    // a bad request to resume is refused before it touches the run
    const before = [readFileSync(join(root, 'c', 'run.json'), 'utf8'), readFileSync(join(root, 'c', 'metrics.jsonl'), 'utf8')];
    await assert.rejects(
      trainCollect({ ...base, threads: 0, resume: join(root, 'c') }),
      (e: unknown) => isUserError(e) && /threads must be/.test((e as Error).message),
    );
    assert.deepEqual([readFileSync(join(root, 'c', 'run.json'), 'utf8'), readFileSync(join(root, 'c', 'metrics.jsonl'), 'utf8')], before);
    const resumed = await trainCollect({ ...base, resume: join(root, 'c') });
    assert.equal(resumed.result.reason, 'completed');
    assert.deepEqual(resumed.losses, a.losses.slice(10));
    const metricSteps = readMetrics(join(root, 'c'))
      .filter((m) => m.type === 'step')
      .map((m) => m.step);
    assert.deepEqual(
      metricSteps,
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    const run = JSON.parse(readFileSync(join(root, 'c', 'run.json'), 'utf8'));
    assert.equal(run.status, 'completed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Korean corpus with Dynamic Tanh norms: trains, checkpoints every epoch, keeps the newest three and the best', async () => {
  const root = tempDir();
  try {
    const { events, result } = await trainCollect({
      ...SMALL,
      corpusPath: KOREAN,
      runDir: join(root, 'ko'),
      context: 64,
      batch: 16,
      epochs: 5,
      norm: 'dyt',
    });
    // Preparing the corpus reports its progress first.
    const start = events.find((e) => e.type !== 'prepare')!;
    assert.equal(start.type, 'start');
    const perEpoch = start.type === 'start' ? start.plan.stepsPerEpoch : 0;
    assert.equal(result.step, 5 * perEpoch);
    const ckpts = events.filter((e) => e.type === 'checkpoint');
    assert.deepEqual(
      ckpts.map((e) => (e.type === 'checkpoint' ? e.reason : '')),
      ['epoch', 'epoch', 'epoch', 'epoch', 'epoch'],
    );
    const kept = readdirSync(join(root, 'ko', 'checkpoints')).sort();
    assert.ok(kept.length >= 3 && kept.length <= 4, kept.join(','));
    assert.ok(kept.includes('epoch-0005') && kept.includes('epoch-0004') && kept.includes('epoch-0003'));
    // The result names the best checkpoint (lowest validation loss), which pruning kept.
    const vals = ckpts.flatMap((e) => (e.type === 'checkpoint' ? [{ path: e.path, val: e.val_loss }] : []));
    const lowest = vals.reduce((a, b) => (b.val < a.val ? b : a));
    assert.deepEqual(result.best, { checkpoint: lowest.path, valLoss: lowest.val });
    assert.ok(existsSync(join(result.best!.checkpoint, 'model.safetensors')));
    const losses = events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));
    assert.ok(losses.at(-1)! < losses[0] - 0.25, `loss ${losses[0]} → ${losses.at(-1)}`);
    const loaded = await loadModel(join(root, 'ko'));
    assert.equal(loaded.tokenizer.kind, 'char');
    assert.equal(loaded.model.config.norm, 'dyt');
    const out = await generate(loaded.model, loaded.tokenizer, '대한민국', {
      temperature: 0.8,
      topK: 0,
      topP: 1,
      maxTokens: 20,
      seed: 1,
      stop: [],
    });
    assert.ok(out.text.length > 0);
    assert.ok(!out.text.includes('\uFFFD'));
    assert.ok(!out.text.includes('<unk>'));
    loaded.model.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('byte-level BPE run; eval over a file; generation is seeded and never splits a character', async () => {
  const root = tempDir();
  try {
    await trainCollect({ ...SMALL, corpusPath: KOREAN, runDir: join(root, 'bpe'), tokenizer: 'bpe', vocabSize: 400, maxSteps: 6 });
    const ev = await runEvalJob(join(root, 'bpe'), KOREAN, 'wasm');
    assert.ok(Number.isFinite(ev.loss) && ev.loss > 0 && ev.loss < Math.log(400) + 1);
    assert.ok(ev.tokens > 100);
    const loaded = await loadModel(join(root, 'bpe'));
    const opts = { temperature: 1, topK: 0, topP: 1, maxTokens: 40, seed: 3, stop: [] };
    const chunks: string[] = [];
    const a = await generate(loaded.model, loaded.tokenizer, '제1조', opts, (t) => chunks.push(t));
    const b = await generate(loaded.model, loaded.tokenizer, '제1조', opts);
    assert.equal(a.text, b.text);
    assert.equal(chunks.join(''), a.text);
    // Streamed text equals decoding all ids at once: no character was split between chunks.
    assert.equal(a.text, loaded.tokenizer.decode(a.ids));
    assert.equal(a.ids.length, 40);
    loaded.model.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('bad requests are refused with clear messages and leave no run folder behind', async () => {
  const root = tempDir();
  try {
    const cases: [TrainRequest, RegExp][] = [
      [{ corpusPath: join(root, 'missing.txt') }, /no such file/],
      [{ corpusPath: ENGLISH, preset: 'huge', runDir: join(root, 'x1') }, /unknown preset "huge"/],
      [{ corpusPath: ENGLISH, lr: -1, runDir: join(root, 'x2') }, /learning rate/],
      [{ corpusPath: ENGLISH, maxSteps: 0, runDir: join(root, 'x3') }, /max steps/],
      [{ corpusPath: ENGLISH, heads: 3, runDir: join(root, 'x4') }, /divisible by heads/],
      [{ corpusPath: ENGLISH, tokenizer: 'bpe', vocabSize: 100, runDir: join(root, 'x5') }, /vocab size/],
      [{ corpusPath: ENGLISH, threads: 0, runDir: join(root, 'x6') }, /threads must be a whole number from 1 to 64 \(got 0\)/],
    ];
    for (const [req, message] of cases) {
      await assert.rejects(
        runTrainJob(
          req,
          () => {},
          () => false,
        ),
        (e: unknown) => isUserError(e) && message.test((e as Error).message),
      );
    }
    assert.deepEqual(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

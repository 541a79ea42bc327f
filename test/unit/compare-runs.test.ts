import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { RunToCompare, compareRuns } from '../../src/core/compare-runs';
import type { RunJson } from '../../src/core/run-json';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/core/train-options';
import { sameVocabulary } from '../../src/core/vocabulary';
import { experimentArm, moreSeeds, otherArch, otherNorm, repeatRequest } from '../../src/core/experiments';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { readRunJson } from '../../src/core/run-json';
import { readMetrics } from '../../src/core/metrics';
import { ENGLISH, KOREAN, TINY_MODEL, tempDir } from './helpers';

/** A run.json as training writes it; `model` and `options` override the tiny defaults. */
function runJson(model: Partial<RunJson['plan']['model']> = {}, options: Partial<RunJson['plan']['options']> = {}): RunJson {
  return {
    format_version: 1,
    created: '2026-01-01T00:00:00Z',
    corpus: { path: '/texts/speech-ko.txt', sha256: 'abcdef0123456789', bytes: 1000, tokens: 400 },
    tokenizer: { kind: 'char', vocabSize: 60, sha256: 'tok1' },
    backend: { name: 'wasm', threads: 1 },
    plan: {
      model: { vocabSize: 60, context: 16, layers: 1, heads: 2, width: 32, norm: 'layernorm', dropout: 0, bias: true, ...model },
      options: { ...DEFAULT_TRAIN_OPTIONS, batch: 4, ...options },
      trainTokens: 360,
      valTokens: 40,
      stepsPerEpoch: 5,
      totalSteps: 30,
      warmupSteps: 3,
      evalEvery: 10,
    },
    status: 'completed',
  };
}

const BASELINES = {
  type: 'baselines',
  uniform_loss: 4,
  unigram_bits_per_char: 4,
  gzip_bits_per_byte: 3,
  val_tokens: 100,
  val_chars: 50,
  val_bytes: 150,
};

/** A run whose evaluations reach `best` bits per character (and 0.5 more before and after). */
function scored(name: string, best: number, model: Partial<RunJson['plan']['model']> = {}, seed = 1): RunToCompare {
  return {
    name,
    dir: `/runs/${name}`,
    run: runJson(model, { seed }),
    metrics: [
      BASELINES,
      { type: 'eval', step: 10, loss: 2, val_loss: 2.2, val_bits_per_char: best + 0.5 },
      { type: 'eval', step: 20, loss: 1.8, val_loss: 2, val_bits_per_char: best },
      { type: 'eval', step: 30, loss: 1.5, val_loss: 1.8, val_bits_per_char: best + 0.2 },
    ],
  };
}

test('compared runs: best validation bits per character and its step, the final gap, median tokens/s, the curve against tokens seen', () => {
  const a = scored('a', 2.5);
  a.metrics.push(
    { step: 1, loss: 3, tokens_per_s: 100 },
    { step: 2, loss: 3, tokens_per_s: 300 },
    { step: 3, loss: 3, tokens_per_s: 200 },
    { step: 4, loss: 3, tokens_per_s: 1000 },
  );
  const { runs, vocabulariesDiffer } = compareRuns([a, scored('b', 2.6, { norm: 'dyt' })]);
  const r = runs[0];
  assert.deepEqual(r.best, { step: 20, bitsPerChar: 2.5 });
  // 4 sequences × 16 tokens a step.
  assert.deepEqual(
    r.curve.map((p) => p.tokens),
    [640, 1280, 1920],
  );
  // The last evaluation: 1.8 − 1.5 nats; × 100 tokens / (50 characters · ln 2).
  assert.ok(Math.abs(r.gap!.nats - 0.3) < 1e-12);
  assert.ok(Math.abs(r.gap!.bitsPerChar! - 0.6 / Math.LN2) < 1e-12);
  assert.equal(r.gap!.step, 30);
  assert.equal(r.tokensPerSecond, 250);
  assert.equal(runs[1].tokensPerSecond, undefined, 'no logged steps: no throughput rather than 0');
  assert.equal(vocabulariesDiffer, false);
});

test('a run whose best validation stays within 5% of its unigram baseline did not learn (the verdict the panel states)', () => {
  // BASELINES: 4 bits per character from character counts alone.
  const { runs } = compareRuns([scored('stuck', 3.81), scored('barely', 3.79), scored('learned', 2.5), scored('worse', 4.6)]);
  assert.deepEqual(
    runs.map((r) => [r.name, r.didNotLearn, r.unigramBitsPerChar]),
    [
      ['stuck', true, 4],
      ['barely', false, 4],
      ['learned', false, 4],
      ['worse', true, 4],
    ],
  );
  const unknown = scored('no-baselines', 3.9);
  unknown.metrics = unknown.metrics.filter((m) => m.type !== 'baselines');
  assert.equal(compareRuns([unknown]).runs[0].didNotLearn, false, 'no baseline: no verdict');
});

test('a run without val_bits_per_char (older metrics) is converted with its baselines; without baselines it has no bits-per-character curve', () => {
  const old = scored('old', 0);
  old.metrics = [BASELINES, { type: 'eval', step: 10, loss: 1, val_loss: Math.LN2 }];
  const none = scored('none', 0);
  none.metrics = [{ type: 'eval', step: 10, loss: 1, val_loss: 1.2 }];
  const { runs } = compareRuns([old, none]);
  // ln 2 nats per token × 100 tokens / (50 characters · ln 2) = 2 bits per character.
  assert.ok(Math.abs(runs[0].best!.bitsPerChar - 2) < 1e-12);
  assert.equal(runs[1].best, undefined);
  assert.equal(runs[1].curve.length, 0);
  assert.ok(Math.abs(runs[1].gap!.nats - 0.2) < 1e-12);
  assert.equal(runs[1].gap!.bitsPerChar, undefined);
});

test('the settings table holds only the settings that differ, with each run’s value', () => {
  const ln = scored('ln', 2);
  const dyt = scored('dyt', 2, { norm: 'dyt' }, 2);
  const { settings } = compareRuns([ln, dyt]);
  assert.deepEqual(settings, [
    { key: 'norm', values: ['layernorm', 'dyt'] },
    { key: 'seed', values: [1, 2] },
  ]);
  const wide = scored('wide', 2, { width: 64 });
  wide.run.corpus = { ...wide.run.corpus, sha256: '9999999999' };
  wide.run.tokenizer = { kind: 'bpe', vocabSize: 512, sha256: 'tok2' };
  const c = compareRuns([ln, wide]);
  assert.deepEqual(
    c.settings.map((s) => s.key),
    ['tokenizer', 'vocabSize', 'corpus', 'width'],
  );
  assert.deepEqual(c.settings[2].values, ['speech-ko.txt (abcdef01)', 'speech-ko.txt (99999999)']);
  assert.equal(c.vocabulariesDiffer, true);
  assert.deepEqual(compareRuns([ln, scored('same', 3)]).settings, [], 'identical settings: an empty table');
});

test('seed groups: mean ± sample std of the best bits per character; within noise when the means differ by less than the larger std', () => {
  // LayerNorm 2.0, 2.2, 2.4 → mean 2.2, std √((0.04 + 0 + 0.04) / 2) = 0.2.
  const ln = [2.0, 2.2, 2.4].map((v, i) => scored(`ln${i}`, v, {}, 1 + i));
  // DyT 2.1, 2.3, 2.5 → mean 2.3, std 0.2; |2.2 − 2.3| = 0.1 < 0.2: within noise.
  const close = [2.1, 2.3, 2.5].map((v, i) => scored(`dyt${i}`, v, { norm: 'dyt' }, 1 + i));
  const c = compareRuns([...ln, ...close]);
  assert.equal(c.seedGroups.length, 2);
  const [a, b] = c.seedGroups;
  assert.deepEqual(a.members, [0, 1, 2]);
  assert.deepEqual(a.seeds, [1, 2, 3]);
  assert.equal(a.label, 'norm=layernorm');
  assert.equal(b.label, 'norm=dyt');
  assert.ok(Math.abs(a.mean - 2.2) < 1e-12 && Math.abs(a.std - 0.2) < 1e-12, JSON.stringify(a));
  assert.ok(Math.abs(b.mean - 2.3) < 1e-12 && Math.abs(b.std - 0.2) < 1e-12, JSON.stringify(b));
  assert.equal(c.verdicts.length, 1);
  assert.ok(Math.abs(c.verdicts[0].difference - 0.1) < 1e-12);
  assert.ok(Math.abs(c.verdicts[0].spread - 0.2) < 1e-12);
  assert.equal(c.verdicts[0].outcome, 'withinNoise');

  // DyT 3.0, 3.1, 3.2 → mean 3.1, std 0.1; |2.2 − 3.1| = 0.9 > max(0.2, 0.1): beyond the seeds' spread.
  const far = [3.0, 3.1, 3.2].map((v, i) => scored(`far${i}`, v, { norm: 'dyt' }, 1 + i));
  const d = compareRuns([...ln, ...far]);
  assert.ok(Math.abs(d.seedGroups[1].std - 0.1) < 1e-12);
  assert.equal(d.verdicts[0].outcome, 'beyondNoise');
  assert.ok(Math.abs(d.verdicts[0].spread - 0.2) < 1e-12);

  // One run per setting: no group, so no verdict (a single seed says nothing about noise).
  const single = compareRuns([ln[0], close[0]]);
  assert.deepEqual(single.seedGroups, []);
  assert.deepEqual(single.verdicts, []);
  // The same seed twice is not a spread.
  assert.deepEqual(compareRuns([ln[0], scored('again', 2.1, {}, 1)]).seedGroups, []);
});

test('a run trained again with a seed already in its group counts once: a repeated result does not shrink the spread', () => {
  // LayerNorm seeds 1, 1, 2 at 2.0, 2.0, 2.4: mean 2.2 and std 0.283 over the two seeds (counted thrice: 2.133 and 0.231).
  const ln = [scored('ln1', 2.0, {}, 1), scored('ln1-again', 2.0, {}, 1), scored('ln2', 2.4, {}, 2)];
  // DyT 2.41, 2.43: 0.22 from 2.2 is within 0.283 (against 2.133 it would be 0.287, beyond 0.231).
  const dyt = [scored('dyt1', 2.41, { norm: 'dyt' }, 1), scored('dyt2', 2.43, { norm: 'dyt' }, 2)];
  const c = compareRuns([...ln, ...dyt]);
  assert.deepEqual(c.seedGroups[0].members, [0, 2]);
  assert.deepEqual(c.seedGroups[0].seeds, [1, 2]);
  assert.ok(Math.abs(c.seedGroups[0].mean - 2.2) < 1e-12);
  assert.ok(Math.abs(c.seedGroups[0].std - 0.4 / Math.SQRT2) < 1e-12, String(c.seedGroups[0].std));
  assert.equal(c.verdicts[0].outcome, 'withinNoise');
});

test('a difference no larger than the seeds’ spread is within noise: two settings with the same results are not called different', () => {
  // Both groups at 2.0 for seeds 1 and 2: a difference of 0 against a spread of 0.
  const a = [1, 2].map((seed) => scored(`ln${seed}`, 2.0, {}, seed));
  const b = [1, 2].map((seed) => scored(`dyt${seed}`, 2.0, { norm: 'dyt' }, seed));
  const [v] = compareRuns([...a, ...b]).verdicts;
  assert.deepEqual([v.difference, v.spread, v.outcome], [0, 0, 'withinNoise']);
});

test('runs that did not learn give no verdict on their difference, however far apart their means', () => {
  // BASELINES: 4 bits/char from character counts; every run within 5% of it (> 3.8) did not learn.
  // GPT-2 blocks 3.95, 3.96 and Llama blocks 3.85, 3.86: a 0.1 difference against a 0.007 spread.
  const gpt2 = [3.95, 3.96].map((v, i) => scored(`gpt2-${i}`, v, {}, 1 + i));
  const stuck = [3.85, 3.86].map((v, i) => scored(`llama-${i}`, v, { norm: 'rmsnorm' }, 1 + i));
  const c = compareRuns([...gpt2, ...stuck]);
  assert.ok(c.runs.every((r) => r.didNotLearn));
  assert.equal(c.verdicts.length, 1);
  assert.ok(c.verdicts[0].difference > c.verdicts[0].spread, 'the arithmetic alone would say beyond noise');
  assert.equal(c.verdicts[0].outcome, 'didNotLearn');

  // One group learned (2.5, 2.6): the difference is a finding, the other setting did not learn.
  const learned = [2.5, 2.6].map((v, i) => scored(`llama-${i}`, v, { norm: 'rmsnorm' }, 1 + i));
  assert.equal(compareRuns([...gpt2, ...learned]).verdicts[0].outcome, 'beyondNoise');
  // One seed of a group learned: its runs are not all stuck, so the seeds' spread decides.
  const mixed = [3.95, 2.0].map((v, i) => scored(`gpt2-${i}`, v, {}, 1 + i));
  assert.equal(compareRuns([...mixed, ...stuck]).verdicts[0].outcome, 'withinNoise');
});

test('vocabularies: the same by hash when both have one, else by kind and size', () => {
  assert.equal(sameVocabulary({ kind: 'char', vocabSize: 60, sha256: 'x' }, { kind: 'char', vocabSize: 60, sha256: 'y' }), false);
  assert.equal(sameVocabulary({ kind: 'char', vocabSize: 60 }, { kind: 'char', vocabSize: 60, sha256: 'y' }), true);
  assert.equal(sameVocabulary({ kind: 'bpe', vocabSize: 512 }, { kind: 'bpe', vocabSize: 1024 }), false);
  assert.equal(sameVocabulary(undefined, { kind: 'bpe', vocabSize: 1024 }), false);
});

test('comparing real runs on a Korean and an English text: corpus and vocabulary differ, tokens seen follow batch × context', async () => {
  const root = tempDir();
  try {
    const inputs: RunToCompare[] = [];
    for (const [name, corpusPath] of [
      ['ko', KOREAN],
      ['en', ENGLISH],
    ] as const) {
      const runDir = join(root, name);
      await runTrainJob(
        { ...TINY_MODEL, corpusPath, runDir, maxSteps: 4, evalEvery: 2 },
        () => {},
        () => false,
      );
      inputs.push({ name, dir: runDir, run: readRunJson(runDir), metrics: readMetrics(runDir) });
    }
    const c = compareRuns(inputs);
    assert.equal(c.vocabulariesDiffer, true);
    const keys = c.settings.map((s) => s.key);
    assert.ok(keys.includes('corpus') && keys.includes('vocabSize'), keys.join());
    assert.ok(!keys.includes('norm') && !keys.includes('seed'), keys.join());
    for (const r of c.runs) {
      assert.equal(r.tokensPerStep, TINY_MODEL.batch * TINY_MODEL.context);
      assert.ok(r.curve.length >= 2, `${r.name}: ${JSON.stringify(r.curve)}`);
      for (const p of r.curve) assert.equal(p.tokens, p.step * 64);
      assert.ok(r.best && r.best.bitsPerChar > 0 && r.best.bitsPerChar < 20, JSON.stringify(r.best));
      assert.ok(r.tokensPerSecond! > 0);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('experiments: a twin repeats the run with only the norm (or seed) changed; more seeds follow each group’s largest', () => {
  const run = runJson({}, { seed: 5, epochs: 4 });
  const twin = repeatRequest(run, { norm: otherNorm(run.plan.model) });
  assert.deepEqual(twin, {
    context: 16,
    layers: 1,
    heads: 2,
    width: 32,
    norm: 'dyt',
    dropout: 0,
    bias: true,
    corpusPath: '/texts/speech-ko.txt',
    tokenizer: 'char',
    vocabSize: undefined,
    batch: 4,
    lr: DEFAULT_TRAIN_OPTIONS.lr,
    seed: 5,
    maxSteps: 30,
    evalEvery: 10,
  });
  assert.equal(otherNorm(runJson({ norm: 'dyt' }).plan.model), 'layernorm');
  const bpe = runJson();
  bpe.tokenizer = { kind: 'bpe', vocabSize: 512, sha256: 'x' };
  assert.equal(repeatRequest(bpe).vocabSize, 512);
  // A run on a cleaned text is repeated on the text cleaned the same way.
  const cleaned = runJson();
  cleaned.corpus.clean = ['front-matter', 'markup'];
  assert.deepEqual(repeatRequest(cleaned, { seed: 6 }).clean, { 'front-matter': true, markup: true });

  const ln = [runJson({}, { seed: 5 }), runJson({}, { seed: 9 })];
  const dyt = runJson({ norm: 'dyt' }, { seed: 5 });
  assert.deepEqual(moreSeeds([ln[0], dyt, ln[1]]), [
    { template: 0, seed: 10 },
    { template: 0, seed: 11 },
    { template: 1, seed: 6 },
    { template: 1, seed: 7 },
  ]);
});

test('GPT-2 block vs Llama block: each arm is trained again as the other blocks at the same shape, seed, data and steps; LayerNorm vs DyT is refused on Llama blocks', async () => {
  const root = tempDir();
  const train = async (name: string, req: Omit<Parameters<typeof runTrainJob>[0], 'runDir'>) => {
    const runDir = join(root, name);
    await runTrainJob(
      { backend: 'wasm', ...req, runDir },
      () => {},
      () => false,
    );
    return { name, dir: runDir, run: readRunJson(runDir), metrics: readMetrics(runDir) };
  };
  try {
    const gpt2 = await train('gpt2', { ...TINY_MODEL, corpusPath: KOREAN, maxSteps: 4, evalEvery: 2 });
    const change = { arch: otherArch(gpt2.run.plan.model) };
    assert.deepEqual(change, { arch: 'llama' });
    assert.deepEqual(experimentArm(gpt2.dir, change), { kind: 'arch', of: gpt2.dir });
    const llama = await train('llama', { ...repeatRequest(gpt2.run, change), experiment: experimentArm(gpt2.dir, change) });
    assert.deepEqual(llama.run.experiment, { kind: 'arch', of: gpt2.dir });
    const [a, b] = [gpt2.run.plan, llama.run.plan];
    assert.equal(b.model.llama?.family, 'llama');
    assert.equal(b.model.llama?.kvHeads, 1, 'grouped-query attention: half the heads');
    assert.deepEqual(
      [b.model.layers, b.model.heads, b.model.width, b.model.context],
      [a.model.layers, a.model.heads, a.model.width, a.model.context],
    );
    assert.deepEqual(
      [b.options.seed, b.totalSteps, b.evalEvery, b.options.batch],
      [a.options.seed, a.totalSteps, a.evalEvery, a.options.batch],
    );
    assert.equal(llama.run.corpus.sha256, gpt2.run.corpus.sha256);
    // The Compare panel's settings: the blocks differ, and with them the norm and the biases; nothing else.
    assert.deepEqual(compareRuns([gpt2, llama]).settings, [
      { key: 'blocks', values: ['GPT-2', 'Llama'] },
      { key: 'norm', values: ['layernorm', 'rmsnorm'] },
      { key: 'bias', values: [true, false] },
    ]);
    // From the Llama run: back to GPT-2 blocks with GPT-2's norm and biases; a seed repeat stays Llama.
    assert.deepEqual(otherArch(llama.run.plan.model), 'gpt2');
    const back = repeatRequest(llama.run, { arch: 'gpt2' });
    assert.equal(back.arch, 'gpt2');
    assert.ok(back.norm === undefined && back.bias === undefined, JSON.stringify(back));
    const seeds = moreSeeds([llama.run], 1);
    const again = await train('llama-seed', repeatRequest(llama.run, { seed: seeds[0].seed }));
    assert.deepEqual(again.run.plan.model, llama.run.plan.model);
    assert.equal(again.run.plan.options.seed, llama.run.plan.options.seed + 1);
    assert.throws(() => otherNorm(llama.run.plan.model), /LayerNorm vs DyT is an experiment on GPT-2 blocks/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

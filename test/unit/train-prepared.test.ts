import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCorpus } from '../../src/core/corpus';
import { EpochPlan, fillBatch, stepsPerEpoch } from '../../src/core/batches';
import { computeBaselines } from '../../src/core/baselines';
import { readMetrics } from '../../src/core/metrics';
import { MODEL_DEFAULTS, presetNamed, validateModelConfig } from '../../src/core/model-config';
import { prepareCorpus, prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';
import { runEstimateJob } from '../../src/worker/jobs/estimate-job';
import { tokenRange } from '../../src/core/prepared/token-file';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../src/core/train-options';
import { makeTrainPlan } from '../../src/core/train-plan';
import { TrainEvent } from '../../src/core/train-events';
import { startEngine } from '../../src/worker/engine/backend';
import { startRun } from '../../src/worker/jobs/run-folder';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { CLI, ENGLISH, KOREAN, TINY_MODEL, jsonLines, tempDir } from './helpers';
import { TrainProgress } from '../../src/cli/progress';

test('batches drawn from the prepared file are those drawn from the ids in memory, every window of an epoch', () => {
  const root = tempDir();
  const corpus = readCorpus(KOREAN);
  const ids = trainTokenizer(corpus.text, { kind: 'char' }).encodeAll(corpus.text);
  const prepared = prepareCorpusSync(KOREAN, { kind: 'char' }, { cacheRoot: root });
  try {
    const context = 16;
    const batch = 4;
    const train = ids.length - 2000;
    const plan = new EpochPlan(train, context, 7, 3);
    const fromFile = tokenRange(prepared.tokens, 0, train);
    for (let cursor = 0; cursor < stepsPerEpoch(train, context, batch); cursor++) {
      const a = [new Int32Array(batch * context), new Int32Array(batch * context)] as const;
      const b = [new Int32Array(batch * context), new Int32Array(batch * context)] as const;
      fillBatch(ids.subarray(0, train), plan, cursor, batch, context, ...a);
      fillBatch(fromFile, plan, cursor, batch, context, ...b);
      assert.deepEqual(b, a, `batch ${cursor}`);
    }
    // The unigram baseline counts the training text's characters, whether it is held or streamed.
    const tok = prepared.tokenizer;
    assert.deepEqual(
      computeBaselines(tok, fromFile, ids.subarray(train + 1)),
      computeBaselines(tok, ids.subarray(0, train), ids.subarray(train + 1)),
    );
  } finally {
    prepared.tokens.close();
  }
});

test('a run trained from the prepared ids has the losses, evaluations and baselines of one trained from the ids in memory', async () => {
  const root = tempDir();
  process.env.CORPUS_LAB_CACHE = join(root, 'cache');
  for (const [file, kind] of [
    [ENGLISH, 'bpe'],
    [KOREAN, 'char'],
  ] as const) {
    const vocabSize = kind === 'bpe' ? 300 : undefined;
    const req = { ...TINY_MODEL, corpusPath: file, tokenizer: kind, vocabSize, maxSteps: 12, evalEvery: 4 };
    const collect = (events: TrainEvent[]) =>
      events.filter((e) => e.type === 'step' || e.type === 'eval').map((e) => ({ ...e, elapsed_s: 0, tokens_per_s: 0 }));

    // Today's path, spelled out: the whole text read and encoded in memory.
    const corpus = readCorpus(file);
    const tokenizer = trainTokenizer(corpus.text, { kind, vocabSize });
    const tokens = tokenizer.encodeAll(corpus.text);
    const shape = presetNamed('tiny');
    const model = validateModelConfig({ ...MODEL_DEFAULTS, ...shape, ...TINY_MODEL, vocabSize: tokenizer.vocabSize });
    const options = validateTrainOptions({
      ...DEFAULT_TRAIN_OPTIONS,
      ...TINY_MODEL,
      maxSteps: 12,
      evalEvery: 4,
      minLr: DEFAULT_TRAIN_OPTIONS.lr / 10,
    });
    const plan = makeTrainPlan(tokens.length, model, options);
    const inMemory: TrainEvent[] = [];
    const engine = await startEngine('wasm');
    await startRun({ corpusPath: file, runDir: join(root, `memory-${kind}`) }, corpus, {
      plan,
      tokens,
      tokenizer,
      engine,
      threads: 1,
      shouldStop: () => false,
      emit: (e) => inMemory.push(e),
      log: () => undefined,
    });

    const fromFile: TrainEvent[] = [];
    await runTrainJob(
      { ...req, runDir: join(root, `file-${kind}`), threads: 1 },
      (e) => fromFile.push(e),
      () => false,
    );
    assert.ok(
      fromFile.some((e) => e.type === 'prepare'),
      'preparation reports its progress',
    );
    assert.deepEqual(collect(fromFile), collect(inMemory));
    const baselines = (dir: string) => readMetrics(join(root, dir)).find((m) => m.type === 'baselines');
    assert.deepEqual(baselines(`file-${kind}`), baselines(`memory-${kind}`));
  }
  delete process.env.CORPUS_LAB_CACHE;
});

test('export-torch copies train.bin and val.bin from the prepared ids, encoding nothing again', async () => {
  const root = tempDir();
  process.env.CORPUS_LAB_CACHE = join(root, 'cache');
  try {
    const run = join(root, 'run');
    await runTrainJob(
      { ...TINY_MODEL, corpusPath: KOREAN, runDir: run, maxSteps: 3, threads: 1 },
      () => undefined,
      () => false,
    );
    const prepared = prepareCorpusSync(KOREAN, { kind: 'char' });
    prepared.tokens.close();
    const encodeAll = Tokenizer.prototype.encodeAll;
    const streamEncoder = Tokenizer.prototype.streamEncoder;
    Tokenizer.prototype.encodeAll = Tokenizer.prototype.streamEncoder = () => {
      throw new Error('encoded again');
    };
    try {
      const out = join(root, 'torch');
      const exported = exportTorch(run, out);
      const whole = readFileSync(join(prepared.dir, 'tokens.bin'));
      const split = 'trainTokens' in exported ? exported.trainTokens * 2 : -1;
      assert.deepEqual(readFileSync(join(out, 'train.bin')), whole.subarray(0, split));
      assert.deepEqual(readFileSync(join(out, 'val.bin')), whole.subarray(split));
    } finally {
      Tokenizer.prototype.encodeAll = encodeAll;
      Tokenizer.prototype.streamEncoder = streamEncoder;
    }
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
});

test('the CLI reuses the preparation on the next run and refuses a bad text in one line; it prints a preparation that takes a while every 5 s with an ETA', () => {
  const dir = tempDir();
  const env = { CORPUS_LAB_CACHE: join(dir, 'cache') };
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
  const args = (out: string) => [
    'train',
    KOREAN,
    '--json',
    '--backend',
    'wasm',
    '--layers',
    '1',
    '--width',
    '32',
    '--heads',
    '2',
    '--context',
    '16',
    '--max-steps',
    '2',
    '-o',
    join(dir, out),
  ];
  const phases = (stdout: string) => [...new Set(jsonLines(stdout).flatMap((e) => (e.type === 'prepare' ? [e.phase] : [])))];
  const first = cli(args('a'));
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(phases(first.stdout), ['read', 'encode']);
  const second = cli(args('b'));
  assert.equal(second.status, 0, second.stderr);
  // Unchanged since it was written and checked: neither encoded nor hashed again.
  assert.deepEqual(phases(second.stdout), []);

  writeFileSync(join(dir, 'nul.txt'), Buffer.from('abc\0def'));
  const bad = cli(['train', join(dir, 'nul.txt')]);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /looks like a binary file \(NUL byte at offset 3\)/);

  const printed: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((text: string) => printed.push(text) > 0) as unknown as typeof process.stderr.write;
  try {
    const progress = new TrainProgress();
    const total = 1e9;
    for (const [elapsed_s, done] of [
      [1, 1e8],
      [6, 5e8],
      [8, 6e8],
      [12, 9e8],
      [13, total],
    ])
      progress.onEvent({ type: 'prepare', phase: 'encode', done, total, elapsed_s, eta_s: ((total - done) * elapsed_s) / done });
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(printed, [
    'preparing the corpus (token ids): 477 MB of 954 MB (50%), ETA 6 s\n',
    'preparing the corpus (token ids): 858 MB of 954 MB (90%), ETA 1 s\n',
    'preparing the corpus (token ids): 954 MB of 954 MB (100%)\n',
  ]);
});

test('the estimate before a run (the preset picker) takes a text past 64 MB: it prepares it, and the run reuses that', async () => {
  const dir = tempDir();
  process.env.CORPUS_LAB_CACHE = join(dir, 'cache');
  try {
    const file = join(dir, 'big.txt');
    const piece = readFileSync(KOREAN, 'utf8') + readFileSync(ENGLISH, 'utf8');
    const copies = Math.ceil((65 * 2 ** 20) / Buffer.byteLength(piece));
    writeFileSync(file, piece.repeat(copies));
    const e = await runEstimateJob({ corpusPath: file, preset: 'tiny', backend: 'wasm', measureSteps: 0, maxSteps: 10 });
    assert.equal(e.tokens, [...piece].length * copies);
    const phases: string[] = [];
    const prepared = await prepareCorpus(file, { kind: 'char' }, { onProgress: (p) => phases.push(p.phase) });
    prepared.tokens.close();
    assert.equal(prepared.reused, true);
    assert.deepEqual(phases, []);
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
    rmSync(dir, { recursive: true, force: true });
  }
});

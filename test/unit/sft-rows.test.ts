import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, openSync, readFileSync, readdirSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { exampleOrder, fillExampleBatch, firstRows, memoryRows, trainedTargetReader, trainedTargets } from '../../src/core/example-batches';
import { FINETUNE_LR } from '../../src/core/finetune';
import { readFinetuneData } from '../../src/core/finetune-data';
import { prepareExamples } from '../../src/core/finetune-folder';
import { readMetrics } from '../../src/core/metrics';
import { readModelFolder } from '../../src/core/model-folder';
import { TrainEvent } from '../../src/core/train-events';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../src/core/train-options';
import { startEngine } from '../../src/worker/engine/backend';
import { dataPlan, runFinetuneJob, sftModel } from '../../src/worker/jobs/finetune-job';
import { startRun } from '../../src/worker/jobs/run-folder';
import { CLI, KOREAN, REPO, koreanDocuments, tempDir, userError } from './helpers';
import { runEstimateJob } from '../../src/worker/jobs/estimate-job';

const FIXTURES = join(REPO, 'test/fixtures');
const QA = join(FIXTURES, 'sft/constitution-qa-ko.jsonl');

/** A copy of the Qwen2 fixture with a ChatML template, as Qwen writes its own. */
function chatModel(root: string): string {
  const dir = join(root, 'qwen2');
  cpSync(join(FIXTURES, 'hf-llama/qwen2'), dir, { recursive: true });
  writeFileSync(join(dir, 'chat_template.jinja'), readFileSync(join(FIXTURES, 'sft/chatml.jinja'), 'utf8'));
  return dir;
}

/** The cache's prepared folders (rows or ids), by name. */
function preparedFolders(cache: string): string[] {
  const root = join(cache, 'prepared');
  return existsSync(root) ? readdirSync(root).filter((d) => /^[0-9a-f]{32}$/.test(d)) : [];
}

const trainingEvents = (events: TrainEvent[]) =>
  events.filter((e) => e.type === 'step' || e.type === 'eval' || e.type === 'data').map((e) => ({ ...e, elapsed_s: 0, tokens_per_s: 0 }));

// The fixture's system prompt is long: at 128 tokens most answers fit, a few are cut.
const CONTEXT = 128;
const BATCH = 4;
const STEPS = 6;

async function withCache<T>(cache: string, body: () => Promise<T>): Promise<T> {
  process.env.CORPUS_LAB_CACHE = cache;
  try {
    return await body();
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
}

test('finetune on a .jsonl trains from rows prepared on disk: the data shown, batches, losses, evaluations and baselines of the examples in memory', async () => {
  const root = tempDir();
  const cache = join(root, 'cache');
  const model = chatModel(root);
  const req = { basePath: model, corpusPath: QA, context: CONTEXT, batch: BATCH, maxSteps: STEPS, backend: 'wasm' as const, threads: 1 };
  const fromRows: TrainEvent[] = [];
  await withCache(cache, () =>
    runFinetuneJob(
      { ...req, runDir: join(root, 'rows') },
      (e) => fromRows.push(e),
      () => false,
    ),
  );
  assert.ok(
    fromRows.some((e) => e.type === 'prepare' && e.phase === 'encode'),
    'the examples are prepared (progress shown)',
  );
  const folders = preparedFolders(cache);
  assert.equal(folders.length, 1, 'one prepared folder in the cache');
  const meta = JSON.parse(readFileSync(join(cache, 'prepared', folders[0], 'rows.json'), 'utf8'));
  assert.equal(meta.rows + meta.counts.dropped, 100);
  assert.equal(meta.key.context, CONTEXT);

  // The in-memory path, spelled out: the file read whole, every example tokenised into arrays.
  const base = readModelFolder(model);
  const options = validateTrainOptions({
    ...DEFAULT_TRAIN_OPTIONS,
    batch: BATCH,
    context: CONTEXT,
    lr: FINETUNE_LR.full,
    minLr: FINETUNE_LR.full / 10,
    maxSteps: STEPS,
  });
  const data = readFinetuneData(QA);
  const sft = sftModel(base.tokenizer, model);
  const { prepared: inMemory, plan } = dataPlan(data, sft, base.config, options, QA);
  assert.ok(Array.isArray(inMemory.examples!.train));
  const memoryEvents: TrainEvent[] = [inMemory.event!];
  await startRun({ corpusPath: QA, runDir: join(root, 'memory') }, data.corpus, {
    plan,
    tokens: inMemory.tokens,
    tokenizer: base.tokenizer,
    engine: await startEngine('wasm'),
    threads: 1,
    shouldStop: () => false,
    emit: (e) => memoryEvents.push(e),
    log: () => undefined,
    start: { weights: base.weights },
    examples: inMemory.examples,
  });
  assert.equal(trainingEvents(memoryEvents).filter((e) => e.type === 'eval').length, STEPS);
  assert.deepEqual(trainingEvents(fromRows), trainingEvents(memoryEvents));
  const baselines = (dir: string) => readMetrics(join(root, dir)).find((m) => m.type === 'baselines');
  assert.deepEqual(baselines('rows'), baselines('memory'));
  const runJson = (dir: string) => JSON.parse(readFileSync(join(root, dir, 'run.json'), 'utf8'));
  assert.deepEqual(runJson('rows').corpus.sha256, runJson('memory').corpus.sha256, 'the run records the file as before');

  // Every batch of two epochs, and the targets the baselines and held-out loss read.
  const rows = await withCache(cache, async () => prepareExamples(QA, sft, CONTEXT, options));
  try {
    const memory = inMemory.examples!;
    assert.equal(rows.examples.train.length, memory.train.length);
    assert.equal(rows.heldOut, inMemory.heldOut);
    for (let epoch = 0; epoch < 2; epoch++) {
      const order = exampleOrder(memory.train.length, options.seed, epoch);
      for (let cursor = 0; cursor < Math.ceil(order.length / BATCH); cursor++)
        assert.deepEqual(
          fillExampleBatch(rows.examples.train, order, cursor, BATCH),
          fillExampleBatch(memory.train, order, cursor, BATCH),
          `epoch ${epoch} batch ${cursor}`,
        );
    }
    assert.deepEqual(trainedTargets(rows.examples.val), trainedTargets(memory.val));
    const all = trainedTargets(memory.train);
    const reader = trainedTargetReader(rows.examples.train);
    assert.equal(reader.length, all.length);
    for (const [a, b] of [
      [0, all.length],
      [1, 2],
      [17, all.length >> 1],
      [all.length - 5, all.length],
    ])
      assert.deepEqual(reader.view(a, b).slice(), all.subarray(a, b), `targets ${a}..${b}`);
  } finally {
    rows.close();
  }
});

test('prepared rows are reused by a second run, and prepared again when damaged (a byte changed, a file cut short)', async () => {
  const root = tempDir();
  const cache = join(root, 'cache');
  const model = chatModel(root);
  const req = { basePath: model, corpusPath: QA, context: CONTEXT, batch: BATCH, maxSteps: 2, backend: 'wasm' as const, threads: 1 };
  const run = async (name: string) => {
    const events: TrainEvent[] = [];
    await withCache(cache, () =>
      runFinetuneJob(
        { ...req, runDir: join(root, name) },
        (e) => events.push(e),
        () => false,
      ),
    );
    return events;
  };
  const first = await run('first');
  const [folder] = preparedFolders(cache);
  const again = await run('again');
  assert.ok(!again.some((e) => e.type === 'prepare' && e.phase === 'encode'), 'not encoded again');
  assert.deepEqual(preparedFolders(cache), [folder]);
  assert.deepEqual(trainingEvents(again), trainingEvents(first));

  const dir = join(cache, 'prepared', folder);
  const mask = readFileSync(join(dir, 'mask.bin'));
  const fd = openSync(join(dir, 'mask.bin'), 'r+');
  writeSync(fd, Uint8Array.of(mask[40] ^ 1), 0, 1, 40);
  closeSync(fd);
  const changed = await run('changed');
  assert.ok(
    changed.some(
      (e) =>
        e.type === 'notice' && /prepared rows .* are damaged \(mask\.bin does not match its sha256\); preparing them again/.test(e.message),
    ),
  );
  assert.deepEqual(trainingEvents(changed), trainingEvents(first));

  truncateSync(join(dir, 'ids.bin'), 100);
  const cut = await run('cut');
  assert.ok(cut.some((e) => e.type === 'notice' && /ids\.bin is 100 bytes, not \d+\); preparing them again/.test(e.message)));
  assert.deepEqual(trainingEvents(cut), trainingEvents(first));

  // Another window or chat template makes other rows: prepared beside the first.
  const encoded = (events: TrainEvent[]) => events.some((e) => e.type === 'prepare' && e.phase === 'encode');
  const wider: TrainEvent[] = [];
  await withCache(cache, () =>
    runFinetuneJob(
      { ...req, context: CONTEXT + 32, runDir: join(root, 'wider') },
      (e) => wider.push(e),
      () => false,
    ),
  );
  assert.ok(encoded(wider));
  assert.equal(preparedFolders(cache).length, 2);
  writeFileSync(
    join(model, 'chat_template.jinja'),
    readFileSync(join(FIXTURES, 'sft/chatml.jinja'), 'utf8').replace('<|im_start|>system', '<|im_start|>system\n'),
  );
  assert.ok(encoded(await run('template')));
  assert.equal(preparedFolders(cache).length, 3);
});

test('a streamed .jsonl is still refused before any run folder or prepared rows exist: a bad line named past the first chunk, no token trained, a cancel', async () => {
  const root = tempDir();
  const cache = join(root, 'cache');
  const model = chatModel(root);
  const good = readFileSync(QA, 'utf8').trim().split('\n');
  const start = (corpusPath: string, runDir: string, shouldStop = () => false) =>
    withCache(cache, () =>
      runFinetuneJob(
        { basePath: model, corpusPath, runDir, context: CONTEXT, maxSteps: 1, backend: 'wasm', threads: 1 },
        () => undefined,
        shouldStop,
      ),
    );

  // Good lines, 5 MB of blank ones (past the read chunks of the first 4 MB), then a line that is not JSON.
  const lines = [...good, ...Array.from({ length: 1_250_000 }, () => '   ')];
  const bad = join(root, 'bad.jsonl');
  writeFileSync(bad, [...lines, '{"messages": [', ...good].join('\n') + '\n');
  await assert.rejects(start(bad, join(root, 'bad-run')), userError(new RegExp(`bad\\.jsonl line ${lines.length + 1} is not JSON`)));
  assert.ok(!existsSync(join(root, 'bad-run')), 'no run folder');

  const empty = join(root, 'empty-answers.jsonl');
  const noAnswer = (i: number) => ({
    messages: [
      { role: 'user', content: `질문 ${i}` },
      { role: 'assistant', content: '' },
    ],
  });
  writeFileSync(empty, Array.from({ length: 20 }, (_, i) => JSON.stringify(noAnswer(i))).join('\n') + '\n');
  await assert.rejects(
    start(empty, join(root, 'empty-run')),
    userError(/empty-answers\.jsonl: no token would be trained: every answer .* is empty$/),
  );
  assert.ok(!existsSync(join(root, 'empty-run')), 'no run folder');

  const result = await start(QA, join(root, 'cancelled'), () => true);
  assert.equal(result.reason, 'cancelled');
  assert.ok(!existsSync(join(root, 'cancelled')), 'no run folder');
  assert.deepEqual(preparedFolders(cache), [], 'nothing half-written in the cache');
});

test('finetune on a .jsonl over 64 MB starts, its peak memory that of a small one', { timeout: 120_000 }, () => {
  const root = tempDir();
  const env = { ...process.env, CORPUS_LAB_CACHE: join(root, 'cache') };
  const cli = (args: string[], rssFile?: string) => {
    // Each run writes its peak RSS (KB) when it exits.
    const preload = join(root, 'rss.js');
    writeFileSync(
      preload,
      "process.on('exit', () => require('fs').writeFileSync(process.env.RSS_FILE, String(process.resourceUsage().maxRSS)));",
    );
    const r = spawnSync(process.execPath, [...(rssFile ? ['-r', preload] : []), CLI, ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...env, RSS_FILE: rssFile ?? '' },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return rssFile ? Number(readFileSync(rssFile, 'utf8')) * 1024 : 0;
  };
  const small = ['--layers', '1', '--heads', '2', '--width', '32', '--context', '16', '--batch', '4', '--backend', 'wasm'];
  cli(['train', KOREAN, '-o', join(root, 'base'), ...small, '--max-steps', '1']);
  const text = readFileSync(KOREAN, 'utf8');
  const line = (i: number) =>
    JSON.stringify({ text: text.slice((i * 97) % (text.length - 600), ((i * 97) % (text.length - 600)) + 600) }) + '\n';
  const write = (path: string, bytes: number) => {
    const fd = openSync(path, 'w');
    let chunk = '';
    for (let i = 0, n = 0; n < bytes; i++) {
      chunk += line(i);
      if (chunk.length > 1 << 20) {
        n += writeSync(fd, chunk);
        chunk = '';
      }
    }
    closeSync(fd);
  };
  const big = join(root, 'big.jsonl');
  const little = join(root, 'little.jsonl');
  write(big, 65 << 20);
  write(little, 1 << 20);
  const args = (data: string, out: string) => [
    'finetune',
    join(root, 'base'),
    data,
    '-o',
    join(root, out),
    '--max-steps',
    '1',
    '--backend',
    'wasm',
    '--threads',
    '1',
  ];
  const littleRss = cli(args(little, 'little-run'), join(root, 'little.rss'));
  const bigRss = cli(args(big, 'big-run'), join(root, 'big.rss'));
  // Reading the file whole would hold its 65 MB of text at least.
  assert.ok(bigRss < littleRss + (40 << 20), `peak RSS ${bigRss >> 20} MB for 65 MB against ${littleRss >> 20} MB for 1 MB`);
});

test('the estimate of a fine-tune prepares a .jsonl and a folder as the run will (streamed, with progress), and the run then reuses them', async () => {
  const root = tempDir();
  const cache = join(root, 'cache');
  const model = chatModel(root);
  const docs = koreanDocuments(root);
  for (const [data, context] of [
    [QA, CONTEXT],
    [docs, 32],
  ] as const) {
    const before = preparedFolders(cache);
    const progress: string[] = [];
    const e = await withCache(cache, () =>
      runEstimateJob(
        { corpusPath: data, finetune: { basePath: model }, context, measureSteps: 0, backend: 'wasm' },
        { onProgress: (p) => progress.push(p.phase) },
      ),
    );
    assert.ok(progress.includes('encode'), `${data}: prepared, progress shown`);
    assert.equal(preparedFolders(cache).length, before.length + 1, `${data}: one prepared folder more`);
    const events: TrainEvent[] = [];
    await withCache(cache, () =>
      runFinetuneJob(
        {
          basePath: model,
          corpusPath: data,
          runDir: join(root, `run-${before.length}`),
          context,
          maxSteps: 1,
          backend: 'wasm',
          threads: 1,
        },
        (ev) => events.push(ev),
        () => false,
      ),
    );
    assert.ok(!events.some((ev) => ev.type === 'prepare' && ev.phase === 'encode'), `${data}: the run reuses what the estimate prepared`);
    assert.equal(events.find((ev) => ev.type === 'start')?.plan.totalSteps, 1);
    assert.ok(e.tokens > 0);
  }
});

test('held-out loss reads evalBatches × batch held-out examples, as text evaluates that many windows, whatever the split', async () => {
  const root = tempDir();
  const model = chatModel(root);
  const qa = join(root, 'qa-1000.jsonl');
  const lines = readFileSync(QA, 'utf8').trim().split('\n');
  writeFileSync(qa, Array.from({ length: 10 }, () => lines.join('\n')).join('\n') + '\n');
  const events: TrainEvent[] = [];
  await withCache(join(root, 'cache'), () =>
    runFinetuneJob(
      { basePath: model, corpusPath: qa, runDir: join(root, 'run'), context: CONTEXT, batch: 2, maxSteps: 1, backend: 'wasm', threads: 1 },
      (e) => events.push(e),
      () => false,
    ),
  );
  const data = events.find((e) => e.type === 'data');
  assert.ok(data?.type === 'data' && data.format !== 'documents' && data.held_out > 40, 'more held out than one evaluation reads');
  const options = validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, batch: 2, context: CONTEXT });
  const rows = await withCache(join(root, 'cache'), async () =>
    prepareExamples(qa, sftModel(readModelFolder(model).tokenizer, model), CONTEXT, options),
  );
  try {
    const scored = trainedTargets(firstRows(rows.examples.val, DEFAULT_TRAIN_OPTIONS.evalBatches * 2));
    const start = events.find((e) => e.type === 'start');
    assert.equal(start?.type === 'start' && start.baselines?.val_tokens, scored.length);
  } finally {
    rows.close();
  }
});

test('the training targets read a range at a time are trainedTargets, across the marks every 1,024 rows', () => {
  const rows = Array.from({ length: 3000 }, (_, r) => {
    const ids = Int32Array.from({ length: 2 + (r % 7) }, (_, k) => r * 10 + k);
    return { ids, labels: Int32Array.from(ids, (id, k) => (k === 0 || (r + k) % 3 === 0 ? -100 : id)) };
  });
  const all = trainedTargets(rows);
  const reader = trainedTargetReader(memoryRows(rows));
  assert.equal(reader.length, all.length);
  const cuts = [0, 1, 1023, 2047, 2048, 4000, all.length - 1, all.length];
  for (const a of cuts) for (const b of cuts) if (a <= b) assert.deepEqual(reader.view(a, b).slice(), all.subarray(a, b), `${a}..${b}`);
});

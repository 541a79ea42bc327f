import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FINETUNE_LR } from '../../src/core/finetune';
import { readFinetuneData } from '../../src/core/finetune-data';
import { readMetrics } from '../../src/core/metrics';
import { readModelFolder } from '../../src/core/model-folder';
import { TrainEvent } from '../../src/core/train-events';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../src/core/train-options';
import { startEngine } from '../../src/worker/engine/backend';
import { dataPlan, runFinetuneJob, sftModel } from '../../src/worker/jobs/finetune-job';
import { startRun } from '../../src/worker/jobs/run-folder';
import { REPO, koreanDocuments, tempDir } from './helpers';

const QWEN2 = join(REPO, 'test/fixtures/hf-llama/qwen2');

test('finetune on a folder trains from its prepared documents (no whole read): the data shown, losses, evaluations and baselines of the documents in memory', async () => {
  const root = tempDir();
  const cache = join(root, 'cache');
  process.env.CORPUS_LAB_CACHE = cache;
  try {
    const docs = koreanDocuments(root);
    const req = {
      basePath: QWEN2,
      corpusPath: docs,
      context: 32,
      batch: 2,
      maxSteps: 6,
      backend: 'wasm' as const,
      threads: 1,
    };
    const fromFolder: TrainEvent[] = [];
    await runFinetuneJob(
      { ...req, runDir: join(root, 'folder') },
      (e) => fromFolder.push(e),
      () => false,
    );
    assert.ok(
      fromFolder.some((e) => e.type === 'prepare'),
      'the documents are prepared (progress shown)',
    );
    const prepared = readdirSync(join(cache, 'prepared')).filter((d) => /^[0-9a-f]{32}$/.test(d));
    assert.equal(prepared.length, 1, 'one prepared folder in the cache');
    const meta = JSON.parse(readFileSync(join(cache, 'prepared', prepared[0], 'prepared.json'), 'utf8'));
    assert.equal(meta.documents.length, 2);

    // The in-memory path, spelled out: the documents read whole and laid out by prepareData.
    const base = readModelFolder(QWEN2);
    const options = validateTrainOptions({
      ...DEFAULT_TRAIN_OPTIONS,
      batch: 2,
      context: 32,
      lr: FINETUNE_LR.full,
      minLr: FINETUNE_LR.full / 10,
      maxSteps: 6,
    });
    const data = readFinetuneData(docs);
    const { prepared: inMemoryData, plan } = dataPlan(data, sftModel(base.tokenizer, QWEN2), base.config, options, docs);
    assert.ok(inMemoryData.tokens instanceof Int32Array);
    const inMemory: TrainEvent[] = [inMemoryData.event!];
    await startRun({ corpusPath: docs, runDir: join(root, 'memory') }, data.corpus, {
      plan,
      tokens: inMemoryData.tokens,
      tokenizer: base.tokenizer,
      engine: await startEngine('wasm'),
      threads: 1,
      shouldStop: () => false,
      emit: (e) => inMemory.push(e),
      log: () => undefined,
      start: { weights: base.weights },
    });
    const collect = (events: TrainEvent[]) =>
      events
        .filter((e) => e.type === 'step' || e.type === 'eval' || e.type === 'data')
        .map((e) => ({ ...e, elapsed_s: 0, tokens_per_s: 0 }));
    assert.equal(collect(inMemory).filter((e) => e.type === 'eval').length, 6);
    assert.deepEqual(collect(fromFolder), collect(inMemory));
    const baselines = (dir: string) => readMetrics(join(root, dir)).find((m) => m.type === 'baselines');
    assert.deepEqual(baselines('folder'), baselines('memory'));
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
});

test('cancelling finetune while its folder is prepared ends it as cancelled, with no run and nothing half-written in the cache', async () => {
  const root = tempDir();
  const cache = join(root, 'cache');
  process.env.CORPUS_LAB_CACHE = cache;
  try {
    const docs = koreanDocuments(root);
    const events: TrainEvent[] = [];
    const result = await runFinetuneJob(
      { basePath: QWEN2, corpusPath: docs, runDir: join(root, 'run'), context: 32, maxSteps: 2, backend: 'wasm', threads: 1 },
      (e) => events.push(e),
      () => true,
    );
    assert.equal(result.reason, 'cancelled');
    assert.ok(events.some((e) => e.type === 'notice' && /preparing .*docs was cancelled; nothing was trained/.test(e.message)));
    assert.ok(!existsSync(join(root, 'run')), 'no run folder');
    assert.deepEqual(
      readdirSync(join(cache, 'prepared')).filter((d) => !['sources', 'tokenizers'].includes(d)),
      [],
    );
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
});

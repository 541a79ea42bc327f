import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { TrainEvent } from '../../src/core/train-events';
import { effectiveStatus, newRunJson, parseRunJson, readRunJson, updateRunJson } from '../../src/core/run-json';
import type { TrainPlan } from '../../src/core/train-options';
import type { FinetuneRecord } from '../../src/core/finetune';
import { listRuns } from '../../src/core/runs';
import { KOREAN, TINY_MODEL, tempDir, userError } from './helpers';

const DEAD_PID = 2 ** 22 + 12345; // above Linux's pid_max, so no process has it

test('a run left "training" by a process that is gone reads as interrupted, and resuming it says so', async () => {
  const root = tempDir();
  try {
    const run = join(root, 'runs', 'ko');
    await runTrainJob(
      { ...TINY_MODEL, corpusPath: KOREAN, runDir: run, maxSteps: 2 },
      () => {},
      () => false,
    );
    assert.equal(readRunJson(run).status, 'completed');
    assert.equal(readRunJson(run).trainer, undefined);

    updateRunJson(run, { status: 'training', trainer: { pid: DEAD_PID, host: hostname() } });
    assert.equal((await listRuns(join(root, 'runs')))[0].status, 'interrupted');
    updateRunJson(run, { status: 'training', trainer: { pid: process.pid, host: hostname() } });
    assert.equal((await listRuns(join(root, 'runs')))[0].status, 'training');
    updateRunJson(run, { status: 'training', trainer: { pid: DEAD_PID, host: 'another-machine' } });
    assert.equal((await listRuns(join(root, 'runs')))[0].status, 'training', 'a process on another host cannot be checked');
    updateRunJson(run, { status: 'training', trainer: undefined });
    assert.equal((await listRuns(join(root, 'runs')))[0].status, 'interrupted', 'run.json from before the trainer was recorded');

    updateRunJson(run, { status: 'training', trainer: { pid: DEAD_PID, host: hostname() } });
    const events: TrainEvent[] = [];
    // -o naming the same run as --resume is accepted
    await runTrainJob(
      { corpusPath: KOREAN, resume: run, runDir: run, maxSteps: 4, backend: 'wasm' },
      (e) => events.push(e),
      () => false,
    );
    const notice = events.find((e) => e.type === 'notice');
    assert.ok(notice && notice.type === 'notice' && /interrupted/.test(notice.message), JSON.stringify(events.slice(0, 2)));
    assert.equal(readRunJson(run).status, 'completed');
    assert.equal(readRunJson(run).step, 4);

    await assert.rejects(
      runTrainJob(
        { corpusPath: KOREAN, resume: run, runDir: join(root, 'elsewhere'), maxSteps: 6, backend: 'wasm' },
        () => {},
        () => false,
      ),
      userError(/--resume continues the run in .*ko, but -o names .*elsewhere/),
    );
    updateRunJson(run, { status: 'training', trainer: { pid: process.ppid, host: hostname() } });
    await assert.rejects(
      runTrainJob(
        { corpusPath: KOREAN, resume: run, maxSteps: 6, backend: 'wasm' },
        () => {},
        () => false,
      ),
      userError(/is being trained right now \(process \d+\)/),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('newRunJson: the run.json a train or fine-tune run starts with', () => {
  const plan = { trainTokens: 90, valTokens: 10 } as unknown as TrainPlan;
  const common = {
    corpusPath: 'texts/헌법.txt',
    corpus: { sha256: 'ab'.repeat(32), bytes: 300 },
    tokens: 100,
    tokenizer: { kind: 'char' as const, vocabSize: 40, sha256: 'cd'.repeat(32) },
    engine: { backend: 'native', threads: 2, blas: 'OpenBLAS' },
    trainingThreads: 3,
    plan,
    now: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
  };
  const run = newRunJson(common);
  assert.deepEqual(run, {
    format_version: 1,
    created: '2026-01-02T03:04:05.000Z',
    corpus: { path: resolve('texts/헌법.txt'), sha256: 'ab'.repeat(32), bytes: 300, tokens: 100 },
    tokenizer: { kind: 'char', vocabSize: 40, sha256: 'cd'.repeat(32) },
    backend: { name: 'native', threads: 6, blas: 'OpenBLAS' },
    plan,
    status: 'training',
    trainer: { pid: process.pid, host: hostname() },
  });
  assert.deepEqual(parseRunJson(JSON.stringify(run), 'run.json'), run);
  assert.equal(effectiveStatus(run), 'training');
  const finetune: FinetuneRecord = { base: '/models/gpt2', replay: 0.1, unseen: 'unk' };
  assert.deepEqual(newRunJson({ ...common, finetune }), { ...run, finetune });
});

test('an experiment arm says so in its run.json, and the runs list tells it and its losses’ tokens per byte (issue 18 item 2)', async () => {
  const root = tempDir();
  try {
    const runs = join(root, 'runs');
    const arm = join(runs, 'twin');
    await runTrainJob(
      { ...TINY_MODEL, corpusPath: KOREAN, runDir: arm, maxSteps: 2, norm: 'dyt', experiment: { kind: 'norm', of: join(runs, 'ln') } },
      () => {},
      () => false,
    );
    const run = readRunJson(arm);
    assert.deepEqual(run.experiment, { kind: 'norm', of: join(runs, 'ln') });
    const [info] = await listRuns(runs);
    assert.equal(info.experiment, true);
    assert.equal(info.tokensPerByte, run.corpus.tokens / run.corpus.bytes);
    // A char tokenizer of Korean text: one token per syllable of three bytes, and some one-byte spaces.
    assert.ok(info.tokensPerByte! > 1 / 3 && info.tokensPerByte! < 1 / 2, String(info.tokensPerByte));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

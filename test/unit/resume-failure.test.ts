import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { TINY_MODEL, tempDir } from './helpers';

const readRun = (run: string) => JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));

test('a --resume that fails before saving a step leaves run.json as it was and notes the attempt; after a saved step it is failed', async () => {
  const root = tempDir();
  try {
    const text = join(root, 'text.txt');
    writeFileSync(text, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
    const run = join(root, 'run');
    await runTrainJob(
      { ...TINY_MODEL, corpusPath: text, runDir: run, maxSteps: 2 },
      () => undefined,
      () => false,
    );
    const before = readRun(run);
    assert.equal(before.status, 'completed');
    const metricsBefore = readFileSync(join(run, 'metrics.jsonl'), 'utf8');

    // The consumer of the events failing (e.g. --json into a closed pipe) fails the job at its first step.
    await assert.rejects(
      runTrainJob(
        { corpusPath: text, resume: run, maxSteps: 8, backend: 'wasm' },
        (e) => {
          if (e.type === 'step') throw new Error('write EPIPE');
        },
        () => false,
      ),
      /EPIPE/,
    );
    const { failed_resume, ...after } = readRun(run);
    assert.deepEqual(after, before);
    assert.equal(failed_resume.error, 'write EPIPE');
    assert.ok(!Number.isNaN(Date.parse(failed_resume.at)));
    assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), metricsBefore, 'the failed attempt logged no step');

    // Once this attempt has saved a checkpoint, the run is what failed.
    await assert.rejects(
      runTrainJob(
        { corpusPath: text, resume: run, maxSteps: 8, backend: 'wasm' },
        (e) => {
          if (e.type === 'checkpoint') throw new Error('write EPIPE');
        },
        () => false,
      ),
      /EPIPE/,
    );
    const failed = readRun(run);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.plan.totalSteps, 8);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

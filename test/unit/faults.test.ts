import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, existsSync, readdirSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { runTrainJob, TrainRequest } from '../../src/worker/jobs/train-job';
import { TrainEvent } from '../../src/core/train-events';
import { listCheckpoints, readCheckpoint, resolveCheckpoint } from '../../src/core/checkpoint';
import { readMetrics } from '../../src/core/metrics';
import { checkTrainingFits } from '../../src/core/memory-budget';
import { Rng } from '../../src/core/rng';
import { CLI, REPO, tempDir, userError } from './helpers';

// The real node:fs module object (not an ES import binding), so a test can make writes fail.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsModule = require('node:fs') as { writeSync: unknown };

const KOREAN = join(REPO, 'test/fixtures/speech-ko.txt');
// Short epochs (a checkpoint every couple of steps) so that kills often land inside a checkpoint write.
const SMALL = { layers: 1, heads: 2, width: 32, context: 16, batch: 32, seed: 11, backend: 'wasm' as const };

async function train(req: TrainRequest) {
  const events: TrainEvent[] = [];
  const result = await runTrainJob(
    req,
    (e) => events.push(e),
    () => false,
  );
  return { result, events };
}

/**
 * Trains until the `nth` checkpoint, then makes every file write fail with `code`; returns the job's
 * error and the run folder. The real fs is restored before returning.
 */
async function failWritesAfterCheckpoint(root: string, nth: number, code: string): Promise<{ error: unknown; run: string }> {
  const realWriteSync = fsModule.writeSync;
  const run = join(root, 'run');
  let checkpoints = 0;
  try {
    await runTrainJob(
      { ...SMALL, corpusPath: KOREAN, runDir: run, maxSteps: 40 },
      (e) => {
        if (e.type === 'checkpoint' && ++checkpoints === nth) {
          fsModule.writeSync = () => {
            throw Object.assign(new Error(`${code}: simulated, write`), { code });
          };
        }
      },
      () => false,
    );
    return { error: undefined, run };
  } catch (error) {
    return { error, run };
  } finally {
    fsModule.writeSync = realWriteSync;
  }
}

const stepLosses = (runDir: string) =>
  readMetrics(runDir)
    .filter((m) => m.type === 'step')
    .map((m) => [m.step, m.loss]);

test('SIGKILL at random moments (also mid-checkpoint): the newest checkpoint loads and resume gives the uninterrupted losses', async () => {
  const root = tempDir();
  try {
    const steps = 60;
    const reference = join(root, 'reference');
    await train({ ...SMALL, corpusPath: KOREAN, runDir: reference, maxSteps: steps });
    const expected = stepLosses(reference);
    assert.equal(expected.length, steps);
    const rng = new Rng(2026);
    let killedWithCheckpoint = 0;
    for (let trial = 0; trial < 8; trial++) {
      const run = join(root, `killed-${trial}`);
      const args = [
        'train',
        KOREAN,
        '-o',
        run,
        '--layers',
        '1',
        '--heads',
        '2',
        '--width',
        '32',
        '--context',
        '16',
        '--batch',
        '32',
        '--seed',
        '11',
        '--max-steps',
        String(steps),
        '--backend',
        'wasm',
        '--json',
      ];
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let steps0 = 0;
      // Kill after a random number of logged steps plus a random sub-step delay.
      const killAt = 3 + rng.below(steps - 10);
      await new Promise<void>((resolve) => {
        let buffered = '';
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          steps0 = (buffered.match(/"type":"step"/g) ?? []).length;
          if (steps0 >= killAt && !child.killed) setTimeout(() => child.kill('SIGKILL'), rng.below(40));
        });
        child.on('exit', () => resolve());
      });
      const complete = listCheckpoints(run);
      for (const c of complete) readCheckpoint(c.dir, { withOptimizer: true }); // every listed checkpoint loads whole
      const leftovers = existsSync(join(run, 'checkpoints')) ? readdirSync(join(run, 'checkpoints')).filter((n) => n.startsWith('.')) : [];
      if (complete.length === 0) continue; // killed before the first checkpoint: nothing to resume
      killedWithCheckpoint++;
      const { result } = await train({ corpusPath: KOREAN, resume: run, backend: 'wasm' });
      assert.equal(result.reason, 'completed');
      assert.deepEqual(stepLosses(run), expected, `trial ${trial} (killed at step ${steps0}, leftovers ${leftovers.join(',')})`);
      const after = existsSync(join(run, 'checkpoints')) ? readdirSync(join(run, 'checkpoints')).filter((n) => n.startsWith('.')) : [];
      assert.deepEqual(after, [], 'temporaries of the killed process are cleaned up by the next checkpoint');
    }
    assert.ok(killedWithCheckpoint >= 4, `only ${killedWithCheckpoint} trials had a checkpoint to resume`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('disk full during a checkpoint: clear error, previous checkpoint intact, no partial folder', async () => {
  const root = tempDir();
  try {
    const { error, run } = await failWritesAfterCheckpoint(root, 2, 'ENOSPC');
    assert.ok(userError(/no space left on the device while writing .*checkpoints.*intact/)(error), String(error));
    const listed = listCheckpoints(run);
    assert.equal(listed.length, 2);
    readCheckpoint(resolveCheckpoint(run), { withOptimizer: true });
    assert.equal(resolveCheckpoint(run), listed[1].dir);
    assert.deepEqual(
      readdirSync(join(run, 'checkpoints')).filter((n) => n.startsWith('.')),
      [],
    );
    // run.json could not be updated on the full disk, but it is whole (atomic writes).
    assert.equal(JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).status, 'training');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an absurd learning rate: training stops naming the step, the last finite checkpoint is kept', async () => {
  const root = tempDir();
  try {
    const run = join(root, 'run');
    await assert.rejects(
      runTrainJob(
        { ...SMALL, corpusPath: KOREAN, runDir: run, lr: 100, maxSteps: 400 },
        () => {},
        () => false,
      ),
      userError(
        /training diverged at step \d+ \(learning rate [\d.e+]+\): the loss is .* the last good checkpoint is kept .* lower --lr \(try 10\)/,
      ),
    );
    const listed = listCheckpoints(run);
    assert.ok(listed.length > 0);
    const ckpt = readCheckpoint(listed.at(-1)!.dir, { withOptimizer: true });
    for (const [name, t] of ckpt.weights) assert.ok(t.data.every(Number.isFinite), `${name} is finite`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a configuration that cannot fit in memory is refused up front, saying how much it needs', async () => {
  const root = tempDir();
  try {
    await assert.rejects(
      runTrainJob(
        { corpusPath: KOREAN, runDir: join(root, 'huge'), layers: 48, heads: 16, width: 2048, context: 512, batch: 64, backend: 'wasm' },
        () => {},
        () => false,
      ),
      userError(
        /needs about \d+(\.\d)? [GT]B to train .* more than the 3\.8 GB the wasm engine can use .*: lower one of --batch, --context, --width, --layers$/,
      ),
    );
    assert.equal(existsSync(join(root, 'huge')), false);
    assert.throws(
      () => checkTrainingFits(10 * 1024 ** 3, 'tensorflow', 8 * 1024 ** 3),
      userError(/needs about 10 GB .* more than the 6\.4 GB available: lower one of /),
    );
    checkTrainingFits(100 * 1024 ** 2, 'wasm', 8 * 1024 ** 3);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('hostile corpora: huge, one character, RTL/combining/ZWJ, mixed Korean-English — trained or refused with a reason', async () => {
  const root = tempDir();
  try {
    const huge = join(root, 'huge.txt');
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, 200 * 1024 * 1024);
    closeSync(fd);
    const t0 = performance.now();
    await assert.rejects(
      runTrainJob(
        { corpusPath: huge },
        () => {},
        () => false,
      ),
      // No size limit: the first chunk read shows it is no text.
      userError(/huge\.txt looks like a binary file \(NUL byte at offset 0\), not text/),
    );
    assert.ok(performance.now() - t0 < 2000, 'refused without reading it all');
    const one = join(root, 'one.txt');
    writeFileSync(one, '가');
    await assert.rejects(
      runTrainJob(
        { corpusPath: one, runDir: join(root, 'r1') },
        () => {},
        () => false,
      ),
      userError(/the corpus has 1 tokens, too few for context 64/),
    );
    const mixed = join(root, 'mixed.txt');
    const line = 'שָׁלוֹם עֲלֵיכֶם · مرحبا بالعالم · e\u0301te\u0301 · 👩‍👩‍👧 family · 대한민국 Korea 123 · ';
    writeFileSync(mixed, (line + '\n').repeat(60));
    for (const tokenizer of ['char', 'bpe'] as const) {
      const { result } = await train({
        ...SMALL,
        batch: 4,
        corpusPath: mixed,
        runDir: join(root, `mixed-${tokenizer}`),
        tokenizer,
        vocabSize: tokenizer === 'bpe' ? 300 : undefined,
        maxSteps: 5,
      });
      assert.equal(result.reason, 'completed');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a read-only output folder during a checkpoint: clear error, the previous checkpoint intact', async () => {
  const root = tempDir();
  try {
    const { error, run } = await failWritesAfterCheckpoint(root, 1, 'EROFS');
    assert.ok(
      userError(/cannot write to .*checkpoints \(read-only or no permission\); what was there before is intact/)(error),
      String(error),
    );
    assert.equal(listCheckpoints(run).length, 1);
    readCheckpoint(resolveCheckpoint(run), { withOptimizer: true });
    assert.deepEqual(
      readdirSync(join(run, 'checkpoints')).filter((n) => n.startsWith('.')),
      [],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('one 10 MB line: the char tokenizer encodes it whole and exactly', async () => {
  const rng = new Rng(5);
  const alphabet = 'abcdefgh 가나다라마 .,';
  let line = '';
  const chunk = Array.from({ length: 100_000 }, () => alphabet[rng.below(alphabet.length)]).join('');
  while (line.length < 10_000_000) line += chunk;
  const { trainTokenizer } = await import('../../src/core/tokenizer');
  const tok = trainTokenizer(line, { kind: 'char' });
  const ids = tok.encode(line);
  assert.equal(ids.length, line.length);
  assert.equal(tok.decode(ids.slice(0, 1000)), line.slice(0, 1000));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { runFinetuneJob } from '../../src/worker/jobs/finetune-job';
import { TrainEvent } from '../../src/core/train-events';
import { ENGLISH, TINY_MODEL, tempDir } from './helpers';

// A fine-tune of a Corpus Lab run whose base text's prepared ids are no longer cached prepares them
// again before training: with the run's progress events, and Cancel stops it there.
const root = tempDir('corpus-lab-ft-base-prepare-');
const cache = join(root, 'cache');
process.env.CORPUS_LAB_CACHE = cache;
const text = readFileSync(ENGLISH, 'utf8');
const baseText = join(root, 'base.txt');
writeFileSync(baseText, text.slice(0, 30_000));
const baseBytes = Buffer.byteLength(text.slice(0, 30_000));
const later = join(root, 'later.txt');
writeFileSync(later, text.slice(40_000, 50_000));

/** Empties the cache of prepared ids (the base's among them), keeping nothing a fine-tune could reuse. */
const emptyCache = () => rmSync(join(cache, 'prepared'), { recursive: true, force: true });

async function finetune(name: string, shouldStop: (events: TrainEvent[]) => boolean) {
  const events: TrainEvent[] = [];
  const runDir = join(root, name);
  const req = { basePath: join(root, 'base'), corpusPath: later, batch: 4, maxSteps: 2, backend: 'wasm' as const, threads: 1, runDir };
  const result = await runFinetuneJob(
    req,
    (e) => events.push(e),
    () => shouldStop(events),
  );
  return { events, result, runDir };
}

/** Progress events of preparing the base's text (the fine-tune's own text is another size). */
const basePreparing = (events: TrainEvent[]) =>
  events.filter((e): e is Extract<TrainEvent, { type: 'prepare' }> => e.type === 'prepare' && e.phase === 'read' && e.total === baseBytes);

test("the base's text, no longer prepared, is prepared again with progress events, and Cancel stops it there", async () => {
  await runTrainJob(
    { ...TINY_MODEL, threads: 1, corpusPath: baseText, maxSteps: 2, runDir: join(root, 'base') },
    () => undefined,
    () => false,
  );
  emptyCache();
  const shown = await finetune('shown', () => false);
  assert.equal(shown.result.reason, 'completed');
  assert.ok(basePreparing(shown.events).length > 0, JSON.stringify(shown.events.filter((e) => e.type === 'prepare')));
  const evals = shown.events.filter((e) => e.type === 'eval') as { base_val_loss?: number }[];
  assert.ok(evals.length > 0 && evals.every((e) => typeof e.base_val_loss === 'number'), 'the forgetting meter ran');

  emptyCache();
  const cancelled = await finetune('cancelled', (events) => basePreparing(events).length > 0);
  assert.equal(cancelled.result.reason, 'cancelled');
  const notices = cancelled.events.filter((e) => e.type === 'notice').map((e) => (e as { message: string }).message);
  assert.ok(
    notices.some((m) => /was cancelled; nothing was trained/.test(m)),
    notices.join('\n'),
  );
  assert.ok(!cancelled.events.some((e) => e.type === 'step'), 'no step trained');
  const left = existsSync(join(cache, 'prepared')) ? readdirSync(join(cache, 'prepared')) : [];
  // The fine-tune's own text is prepared first, whole; nothing of the base's is left.
  const preparedFrom = (name: string) => {
    const meta = join(cache, 'prepared', name, 'prepared.json');
    return existsSync(meta) ? JSON.parse(readFileSync(meta, 'utf8')).source.path : name;
  };
  assert.deepEqual(
    left.filter((name) => name !== 'tokenizers' && name !== 'sources').map(preparedFrom),
    [later],
    "the base's cancelled preparation left nothing behind",
  );
  assert.ok(!existsSync(join(cancelled.runDir, 'checkpoints')) || readdirSync(join(cancelled.runDir, 'checkpoints')).length === 0);
});

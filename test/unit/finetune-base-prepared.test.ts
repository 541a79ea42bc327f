import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrainRequest, runTrainJob } from '../../src/worker/jobs/train-job';
import { runFinetuneJob } from '../../src/worker/jobs/finetune-job';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { readRunJson } from '../../src/core/run-json';
import { TrainEvent } from '../../src/core/train-events';
import { Tokenizer } from '../../src/core/tokenizer';
import { trainedLength } from '../../src/core/documents';
import { ENGLISH, TINY_MODEL, tempDir } from './helpers';

// A fine-tune of a Corpus Lab run replays the base's text and measures forgetting on its held-out
// part: for a base trained on a folder, a .jsonl of texts or cleaned text, from the base run's
// prepared ids laid out as that run laid them out (not its path read as one text file).
const root = tempDir('corpus-lab-ft-base-prepared-');
process.env.CORPUS_LAB_CACHE = join(root, 'cache');
const text = readFileSync(ENGLISH, 'utf8');

async function train(name: string, corpusPath: string, extra: Partial<TrainRequest> = {}): Promise<string> {
  const runDir = join(root, name);
  await runTrainJob(
    { ...TINY_MODEL, threads: 1, corpusPath, maxSteps: 2, runDir, ...extra },
    () => undefined,
    () => false,
  );
  return runDir;
}

async function finetune(basePath: string, name: string, replay?: number): Promise<TrainEvent[]> {
  const later = join(root, 'later.txt');
  writeFileSync(later, text.slice(40_000, 50_000));
  const events: TrainEvent[] = [];
  const runDir = join(root, name);
  const req = { basePath, corpusPath: later, replay, batch: 4, maxSteps: 3, backend: 'wasm' as const, threads: 1, runDir };
  await runFinetuneJob(
    req,
    (e) => events.push(e),
    () => false,
  );
  return events;
}

const uint16s = (bytes: Buffer) => new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);

/** The fine-tune replayed and scored its base's text: base_val_loss at each evaluation, no notice saying it could not. */
function assertForgettingMeter(events: TrainEvent[], base: string): void {
  const notices = events.filter((e) => e.type === 'notice').map((e) => (e as { message: string }).message);
  assert.ok(!notices.some((m) => /no forgetting meter/.test(m)), notices.join('\n'));
  const evals = events.filter((e) => e.type === 'eval') as { base_val_loss?: number }[];
  assert.ok(evals.length > 0 && evals.every((e) => typeof e.base_val_loss === 'number' && e.base_val_loss > 0), JSON.stringify(evals));
  assert.ok(readRunJson(base).corpus.path);
}

test('a base trained on a folder of documents: replayed and scored (default replay and --replay 0.5); export-torch writes its text', async () => {
  const docs = join(root, 'docs');
  mkdirSync(docs);
  writeFileSync(join(docs, 'a.md'), text.slice(0, 12_000));
  writeFileSync(join(docs, 'b.txt'), text.slice(12_000, 20_000));
  const base = await train('folder-base', docs);
  assertForgettingMeter(await finetune(base, 'folder-default'), base);
  assertForgettingMeter(await finetune(base, 'folder-replay', 0.5), base);
  assert.deepEqual(readRunJson(join(root, 'folder-replay')).finetune?.base_corpus?.path, docs);

  const exp = join(root, 'folder-export');
  exportTorch(join(root, 'folder-replay'), exp);
  // The base's training part to replay and its held-out part, uint16 ids as the base run split them.
  const { trainTokens, valTokens, options } = readRunJson(base).plan;
  assert.equal(statSync(join(exp, 'replay.bin')).size, trainTokens * 2);
  // Held out per document: each one's last part (a char vocabulary has no end-of-text id between them).
  const tokenizer = Tokenizer.fromJSON(readFileSync(join(exp, 'tokenizer.json'), 'utf8'));
  const heldOut = [text.slice(0, 12_000), text.slice(12_000, 20_000)].map((d) => d.slice(trainedLength(d.length, options.valFraction)));
  const expected = Uint16Array.from(tokenizer.encodeAll(heldOut.join('')));
  assert.equal(expected.length, valTokens);
  assert.deepEqual(uint16s(readFileSync(join(exp, 'base-val.bin'))), expected);
  const plan = JSON.parse(readFileSync(join(exp, 'plan.json'), 'utf8')) as { data: Record<string, unknown> };
  assert.deepEqual(plan.data.replay, { file: 'replay.bin', dtype: 'uint16', fraction: 0.5 });
});

test('a base trained on a .jsonl of texts: replayed and scored', async () => {
  const jsonl = join(root, 'texts.jsonl');
  const lines = [0, 1, 2, 3].map((i) => JSON.stringify({ text: text.slice(i * 5000, (i + 1) * 5000) }));
  writeFileSync(jsonl, lines.join('\n') + '\n');
  const base = await train('jsonl-base', jsonl);
  assertForgettingMeter(await finetune(base, 'jsonl-ft', 0.2), base);
});

test('a base trained on cleaned text (run.json corpus.clean): replayed and scored on the cleaned text', async () => {
  const messy = join(root, 'messy.txt');
  // Blank-line runs and CRLF, which cleaning collapses: the raw text encodes to more tokens than the run trained on.
  writeFileSync(messy, text.slice(0, 20_000).replace(/\n/g, '\r\n\r\n\r\n\r\n'));
  const base = await train('clean-base', messy, { clean: {} });
  const run = readRunJson(base);
  assert.ok(run.corpus.clean, 'the base run recorded its cleaning');
  assert.ok(run.plan.trainTokens + run.plan.valTokens < statSync(messy).size, 'cleaning changed the text');
  assertForgettingMeter(await finetune(base, 'clean-ft', 0.2), base);
  exportTorch(join(root, 'clean-ft'), join(root, 'clean-export'));
  assert.equal(statSync(join(root, 'clean-export', 'base-val.bin')).size, run.plan.valTokens * 2);
});

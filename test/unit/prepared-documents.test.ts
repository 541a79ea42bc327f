import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { documentTokens, readDocuments } from '../../src/core/documents';
import { readFinetuneData } from '../../src/core/finetune-data';
import { parseSftJsonl } from '../../src/core/sft-data';
import { endOfText } from '../../src/core/hf-export';
import { readMetrics } from '../../src/core/metrics';
import { MODEL_DEFAULTS, presetNamed, validateModelConfig } from '../../src/core/model-config';
import { prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';
import { trainingTokens } from '../../src/core/prepared/document-layout';
import { idCounts, memoryTokens, tokenRange } from '../../src/core/prepared/token-file';
import { TrainEvent } from '../../src/core/train-events';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../src/core/train-options';
import { makeTrainPlan } from '../../src/core/train-plan';
import { startEngine } from '../../src/worker/engine/backend';
import { startRun } from '../../src/worker/jobs/run-folder';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { runEstimateJob } from '../../src/worker/jobs/estimate-job';
import { ENGLISH, KOREAN, TINY_MODEL, assertCliUserError, tempDir, userError } from './helpers';

/** Korean and English documents of several sizes, in a subfolder too, with a hidden and an empty file that are skipped. */
function mixedDocuments(root: string): string {
  const docs = join(root, 'docs');
  const ko = readFileSync(KOREAN, 'utf8');
  const en = readFileSync(ENGLISH, 'utf8');
  mkdirSync(join(docs, 'part', '.hidden'), { recursive: true });
  writeFileSync(join(docs, 'a.txt'), ko.slice(0, 1500));
  writeFileSync(join(docs, 'b.md'), '\ufeff' + en.slice(0, 2500));
  writeFileSync(join(docs, 'part', 'c.txt'), ko.slice(4000, 4003)); // shorter than a window, and no held-out part at a tenth
  writeFileSync(join(docs, 'part', 'd.md'), en.slice(9000, 12000) + ko.slice(2000, 2600));
  writeFileSync(join(docs, 'part', '.hidden', 'e.txt'), 'not read');
  writeFileSync(join(docs, 'empty.txt'), '');
  return docs;
}

test("a folder prepared in one streamed pass reads as the documents' ids laid out in memory: held out per document, end-of-text between parts", () => {
  const root = tempDir();
  const docs = mixedDocuments(root);
  for (const [kind, vocabSize] of [
    ['char', undefined],
    ['bpe', 300],
  ] as const) {
    const prepared = prepareCorpusSync(docs, { kind, vocabSize }, { cacheRoot: join(root, 'cache') });
    try {
      const tok = prepared.tokenizer;
      const eosId = endOfText(tok.toJSON())?.id;
      assert.equal(eosId === undefined, kind === 'char', 'BPE has <|endoftext|>, a char vocabulary none');
      const inMemory = readDocuments(docs).map((d) => tok.encodeAll(d.text));
      assert.equal(prepared.meta.documents.length, 4);
      for (const valFraction of [0.1, 0.25]) {
        const expected = documentTokens(inMemory, eosId, valFraction);
        const { tokens, heldOut } = trainingTokens(prepared, valFraction);
        assert.equal(heldOut, expected.heldOut);
        assert.deepEqual(tokens.view(0, tokens.length), expected.tokens, `${kind} ${valFraction}`);
        // The counts a baseline reads (from the stored totals when the range is long) are those of the ids.
        const vocab = tok.vocabSize;
        for (const [a, b] of [
          [0, tokens.length - heldOut],
          [tokens.length - heldOut, tokens.length],
          [3, tokens.length - 5],
        ])
          assert.deepEqual(idCounts(tokenRange(tokens, a, b), vocab), idCounts(memoryTokens(expected.tokens.subarray(a, b)), vocab));
        // Every short range, across parts and their end-of-text ids, as batches draw them.
        for (let start = 0; start + 17 <= tokens.length; start += 13)
          assert.deepEqual(tokens.view(start, start + 17), expected.tokens.subarray(start, start + 17), `${kind} at ${start}`);
      }
    } finally {
      prepared.tokens.close();
    }
  }
});

test('a run on a folder trains on the prepared documents with the losses, evaluations and baselines of one on the documents in memory', async () => {
  const root = tempDir();
  process.env.CORPUS_LAB_CACHE = join(root, 'cache');
  try {
    const docs = mixedDocuments(root);
    const req = { ...TINY_MODEL, corpusPath: docs, tokenizer: 'bpe' as const, vocabSize: 300, maxSteps: 12, evalEvery: 4 };
    const collect = (events: TrainEvent[]) =>
      events.filter((e) => e.type === 'step' || e.type === 'eval').map((e) => ({ ...e, elapsed_s: 0, tokens_per_s: 0 }));
    const fromFolder: TrainEvent[] = [];
    await runTrainJob(
      { ...req, runDir: join(root, 'folder'), threads: 1 },
      (e) => fromFolder.push(e),
      () => false,
    );

    // The in-memory path, spelled out: each document encoded whole, laid out by documentTokens.
    const prepared = prepareCorpusSync(docs, { kind: 'bpe', vocabSize: 300 });
    prepared.tokens.close();
    const tokenizer = prepared.tokenizer;
    const options = validateTrainOptions({
      ...DEFAULT_TRAIN_OPTIONS,
      ...TINY_MODEL,
      maxSteps: 12,
      evalEvery: 4,
      minLr: DEFAULT_TRAIN_OPTIONS.lr / 10,
    });
    const { tokens, heldOut } = documentTokens(
      readDocuments(docs).map((d) => tokenizer.encodeAll(d.text)),
      endOfText(tokenizer.toJSON())?.id,
      options.valFraction,
    );
    const model = validateModelConfig({ ...MODEL_DEFAULTS, ...presetNamed('tiny'), ...TINY_MODEL, vocabSize: tokenizer.vocabSize });
    const plan = makeTrainPlan(tokens.length, model, options, heldOut);
    const inMemory: TrainEvent[] = [];
    await startRun({ corpusPath: docs, runDir: join(root, 'memory') }, prepared.meta.source, {
      plan,
      tokens,
      tokenizer,
      engine: await startEngine('wasm'),
      threads: 1,
      shouldStop: () => false,
      emit: (e) => inMemory.push(e),
      log: () => undefined,
    });
    assert.equal(collect(inMemory).filter((e) => e.type === 'eval').length, 3);
    assert.deepEqual(collect(fromFolder), collect(inMemory));
    const baselines = (dir: string) => readMetrics(join(root, dir)).find((m) => m.type === 'baselines');
    assert.deepEqual(baselines('folder'), baselines('memory'));
    // A resume reads the same layout (a changed split would be refused as another corpus).
    const resumed: TrainEvent[] = [];
    await runTrainJob(
      { ...req, corpusPath: docs, resume: join(root, 'folder'), maxSteps: 14, threads: 1 },
      (e) => resumed.push(e),
      () => false,
    );
    assert.deepEqual(
      resumed.filter((e) => e.type === 'step').map((e) => e.step),
      [13, 14],
    );
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
});

test("the estimate before a run on a folder counts its documents' char ids (the run then reuses that preparation)", async () => {
  const root = tempDir();
  process.env.CORPUS_LAB_CACHE = join(root, 'cache');
  try {
    const docs = mixedDocuments(root);
    const e = await runEstimateJob({ corpusPath: docs, preset: 'tiny', backend: 'wasm', measureSteps: 0, maxSteps: 10 });
    const chars = readDocuments(docs).reduce((n, d) => n + [...d.text].length, 0);
    assert.equal(e.tokens, chars);
    const prepared = prepareCorpusSync(docs, { kind: 'char' });
    prepared.tokens.close();
    assert.equal(prepared.reused, true);
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
});

test("a folder's preparation is reused until a document is changed, added or renamed", () => {
  const root = tempDir();
  const cacheRoot = join(root, 'cache');
  const docs = mixedDocuments(root);
  const prepare = () => {
    const p = prepareCorpusSync(docs, { kind: 'char' }, { cacheRoot });
    p.tokens.close();
    return p;
  };
  const first = prepare();
  assert.equal(first.reused, false);
  // One identity for a folder, whether fine-tuning reads it whole or it is prepared (a run's export checks it).
  assert.equal(first.meta.source.sha256, readFinetuneData(docs).corpus.sha256);
  assert.equal(prepare().reused, true);
  const seen = new Set([first.meta.source.sha256]);
  const changes = [
    () => writeFileSync(join(docs, 'a.txt'), readFileSync(join(docs, 'a.txt'), 'utf8').replace('대한민국', '대한민굮')),
    () => writeFileSync(join(docs, 'part', 'new.md'), 'another document'),
    () => writeFileSync(join(docs, 'part', 'c2.txt'), readFileSync(join(docs, 'part', 'c.txt'))),
  ];
  for (const change of changes) {
    change();
    const again = prepare();
    assert.equal(again.reused, false);
    assert.ok(!seen.has(again.meta.source.sha256), 'another sha256');
    seen.add(again.meta.source.sha256);
  }
});

test('a bad document is named in one line, and nothing is left half-prepared in the cache', () => {
  const root = tempDir();
  const cacheRoot = join(root, 'cache');
  const docs = mixedDocuments(root);
  const bad = join(docs, 'part', 'z.txt');
  for (const [bytes, re] of [
    [Buffer.from([0x61, 0x00, 0x62]), /z\.txt looks like a binary file \(NUL byte at offset 1\)/],
    [Buffer.from([0x61, 0x62, 0xff, 0x63]), /z\.txt is not valid UTF-8 \(first bad byte at offset 2\)/],
  ] as const) {
    writeFileSync(bad, bytes);
    for (const kind of ['char', 'bpe'] as const)
      assert.throws(() => prepareCorpusSync(docs, { kind, vocabSize: kind === 'bpe' ? 300 : undefined }, { cacheRoot }), userError(re));
  }
  process.env.CORPUS_LAB_CACHE = join(root, 'cli-cache');
  try {
    assertCliUserError(['train', docs, '-o', join(root, 'run'), '--max-steps', '1'], root, /z\.txt is not valid UTF-8/);
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
  const left = readdirSync(cacheRoot).filter((f) => f !== 'sources' && f !== 'tokenizers');
  assert.deepEqual(left, [], 'no prepared folder and no temporary one');
  const none = join(root, 'none');
  mkdirSync(join(none, '.notes'), { recursive: true });
  writeFileSync(join(none, '.notes', 'a.txt'), 'hidden');
  writeFileSync(join(none, 'b.pdf'), 'not a document');
  assert.throws(() => prepareCorpusSync(none, { kind: 'char' }, { cacheRoot }), userError(/none has no \.txt or \.md documents/));
});

test('a .jsonl of {"text"} examples is prepared a line at a time, each text a document; a bad line is refused naming the file and the line', () => {
  const root = tempDir();
  const cacheRoot = join(root, 'cache');
  const ko = readFileSync(KOREAN, 'utf8');
  const en = readFileSync(ENGLISH, 'utf8');
  const texts = [ko.slice(0, 900), en.slice(0, 1200), '', ko.slice(900, 903), 'line one\nline two "quoted"\r\n', en.slice(5000, 7000)];
  const file = join(root, 'texts.jsonl');
  writeFileSync(file, '\ufeff' + texts.map((text, i) => JSON.stringify({ text }) + (i === 2 ? '\r\n\n  \n' : '\n')).join(''));
  for (const [kind, vocabSize] of [
    ['char', undefined],
    ['bpe', 300],
  ] as const) {
    const prepared = prepareCorpusSync(file, { kind, vocabSize }, { cacheRoot });
    try {
      const tok = prepared.tokenizer;
      const inMemory = parseSftJsonl(readFileSync(file, 'utf8').slice(1), file).map((e) => tok.encodeAll((e as { text: string }).text));
      assert.equal(inMemory.length, texts.length);
      const expected = documentTokens(inMemory, endOfText(tok.toJSON())?.id, 0.1);
      const { tokens, heldOut } = trainingTokens(prepared, 0.1);
      assert.equal(heldOut, expected.heldOut);
      assert.deepEqual(tokens.view(0, tokens.length), expected.tokens, kind);
    } finally {
      prepared.tokens.close();
    }
  }
  // The same bytes prepared as a plain text are another corpus, never taken for the documents.
  const asText = join(root, 'texts.txt');
  writeFileSync(asText, readFileSync(file));
  const plain = prepareCorpusSync(asText, { kind: 'char' }, { cacheRoot });
  plain.tokens.close();
  assert.equal(plain.layout, 'text');
  assert.notEqual(plain.dir, prepareCorpusSync(file, { kind: 'char' }, { cacheRoot }).dir);

  // Past the first 4 MB chunk, the line numbers are still right.
  const big = join(root, 'big.jsonl');
  const line = JSON.stringify({ text: ko.slice(0, 60) }) + '\n';
  const lines = Math.ceil((5 << 20) / Buffer.byteLength(line));
  for (const [bad, re] of [
    ['{"text": "cut', new RegExp(`big\\.jsonl line ${lines + 1} is not JSON .*: each line must be one JSON object`)],
    ['["text"]', new RegExp(`big\\.jsonl line ${lines + 1} is not a JSON object`)],
    [
      '{"prompt": "a", "completion": "b"}',
      new RegExp(`big\\.jsonl line ${lines + 1} is in the format .*prompt.*, but line 1 is \\{"text"\\}: one format per file`),
    ],
    ['{"txt": "a"}', new RegExp(`big\\.jsonl line ${lines + 1} has none of the keys of a known format`)],
  ] as const) {
    writeFileSync(big, line.repeat(lines) + bad + '\n' + line);
    assert.throws(() => prepareCorpusSync(big, { kind: 'char' }, { cacheRoot }), userError(re));
  }
  writeFileSync(big, '\n' + JSON.stringify({ prompt: 'a', completion: 'b' }) + '\n');
  assert.throws(
    () => prepareCorpusSync(big, { kind: 'char' }, { cacheRoot }),
    userError(
      /big\.jsonl line 2 is in the format .*prompt.*: train reads \{"text"\} lines; fine-tune on it instead \(corpus-lab finetune BASE .*big\.jsonl\)/,
    ),
  );
  writeFileSync(big, '\n  \n');
  assert.throws(() => prepareCorpusSync(big, { kind: 'char' }, { cacheRoot }), userError(/big\.jsonl has no examples/));
  // The .jsonl with char and BPE and the same bytes as a text, each whole; nothing half-written.
  const prepared = readdirSync(cacheRoot).filter((f) => !['sources', 'tokenizers'].includes(f));
  assert.equal(prepared.length, 3);
  for (const dir of prepared) assert.ok(existsSync(join(cacheRoot, dir, 'prepared.json')), dir);
});

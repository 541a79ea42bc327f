import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExampleRows, splitExampleRows, targetsOf, trainedTargetReader, trainedTargets } from '../../src/core/example-batches';
import { computeBaselines, tokenCharCounts, tokenTextBytes } from '../../src/core/baselines';
import { prepareSftRowsSync } from '../../src/core/prepared/sft-rows';
import { idCounts } from '../../src/core/prepared/token-file';
import { readModelFolder } from '../../src/core/model-folder';
import { sftModel } from '../../src/worker/jobs/finetune-job';
import { REPO, tempDir } from './helpers';

// A cached .jsonl of rows starts training at once: the trained-target counts per row (for the marks
// the training targets are read from) and the targets' id and character totals (for the unigram
// baseline) are stored with the rows when they are prepared, not found by reading every row before
// the first step. They must give exactly what reading the rows gives.
const FIXTURES = join(REPO, 'test/fixtures');
const root = tempDir('corpus-lab-sft-totals-');
const qwen2 = join(root, 'qwen2');
cpSync(join(FIXTURES, 'hf-llama/qwen2'), qwen2, { recursive: true });
writeFileSync(join(qwen2, 'chat_template.jinja'), readFileSync(join(FIXTURES, 'sft/chatml.jinja'), 'utf8'));
const model = sftModel(readModelFolder(qwen2).tokenizer, qwen2);
const { tokenizer } = model;

// Korean Q&A; the first pairs' answers start with a byte-order mark (which a decoder drops only at the very start).
const qa = readFileSync(join(FIXTURES, 'sft/constitution-qa-ko.jsonl'), 'utf8').trim().split('\n');
const marked = qa.slice(0, 12).map((l) => {
  const example = JSON.parse(l) as { messages: { role: string; content: string }[] };
  example.messages[1].content = '\uFEFF' + example.messages[1].content;
  return JSON.stringify(example);
});
const file = join(root, 'qa.jsonl');
writeFileSync(file, [...marked, ...qa].join('\n') + '\n');

/** The rows as they were read before (no stored counts), and a count of rows read through them. */
function plain(rows: ExampleRows): ExampleRows {
  return { length: rows.length, row: (i) => rows.row(i), size: (i) => rows.size(i) };
}

for (const [what, context, utf8] of [
  ['whole answers (each row whole UTF-8)', 512, true],
  ['answers cut inside a character (the streamed decoding is kept)', 96, false],
] as const) {
  test(`stored target totals equal the rows read: marks, id counts, characters and baselines; ${what}`, () => {
    const prepared = prepareSftRowsSync(file, model, context, { cacheRoot: join(root, `cache-${context}`) });
    try {
      const { rows } = prepared;
      let reads = 0;
      const row = rows.row.bind(rows);
      rows.row = (i) => (reads++, row(i));
      assert.equal(rows.targetTotals().chars !== undefined, utf8);
      const split = splitExampleRows(rows, 0.1, 7);
      const first = targetsOf(split.train.row(0));
      if (utf8) assert.ok(new TextDecoder('utf-8', { ignoreBOM: true }).decode(tokenTextBytes(tokenizer, first)).startsWith('\uFEFF'));

      reads = 0;
      const fast = trainedTargetReader(split.train);
      const fastIds = idCounts(fast, tokenizer.vocabSize);
      const fastChars = tokenCharCounts(tokenizer, fast);
      const fastReads = reads;
      reads = 0;
      const slow = trainedTargetReader(plain(split.train));
      const slowIds = idCounts(slow, tokenizer.vocabSize);
      const slowChars = tokenCharCounts(tokenizer, slow);
      const slowReads = reads;

      assert.equal(fast.length, slow.length);
      assert.deepEqual(fast.view(0, fast.length).slice(), slow.view(0, slow.length).slice());
      assert.deepEqual(fastIds, slowIds);
      assert.deepEqual(fastChars, slowChars);
      if (utf8) assert.ok(slowChars.get('\uFEFF')! > 0, 'the training targets hold byte-order marks past the first');
      const scored = trainedTargets(split.val);
      assert.deepEqual(computeBaselines(tokenizer, fast, scored), computeBaselines(tokenizer, slow, scored));

      // Reading the rows was what took the time: with whole UTF-8 rows only the held-out ones (and the first) are read.
      assert.ok(slowReads >= 2 * split.train.length, `${slowReads}`);
      if (utf8) assert.ok(fastReads <= split.val.length + 2, `${fastReads} rows read of ${rows.length}`);
      else assert.ok(fastReads <= split.train.length + split.val.length + 2, `${fastReads} rows read of ${rows.length}`);
    } finally {
      prepared.rows.close();
    }
  });
}

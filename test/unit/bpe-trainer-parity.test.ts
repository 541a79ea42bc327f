import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTokenCounter, trainBpeFromCounts, trainTokenizer } from '../../src/core/tokenizer';
import { trainByteLevelBpeFromCounts } from '../../src/core/tokenizer/bpe-trainer';
import { REPO } from './helpers';

// Made by test/reference/make_bpe_trainer_merges.py with Hugging Face's tokenizers (Rust BpeTrainer).
const FIXTURE = JSON.parse(readFileSync(join(REPO, 'test/fixtures/tokenizers/bpe-trainer-merges.json'), 'utf8')) as {
  corpora: string[];
  vocab_size: number;
  merges: string[];
};
const BYTES = Buffer.concat(FIXTURE.corpora.map((p) => readFileSync(join(REPO, p))));
const TEXT = BYTES.toString('utf8');

/** The corpus pushed as text decoded from chunks of `size` bytes (edges inside characters and words). */
function streamedCounts(size: number, maxPieces?: number): PreTokenCounter {
  const counter = new PreTokenCounter(maxPieces);
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for (let at = 0; at < BYTES.length; at += size) counter.push(decoder.decode(BYTES.subarray(at, at + size), { stream: true }));
  counter.push(decoder.decode());
  return counter;
}

test('BPE learned from streamed word counts has the merges of the Rust BpeTrainer, in order', () => {
  for (const size of [1, 777, 1 << 20]) {
    const merges = trainByteLevelBpeFromCounts(streamedCounts(size).end(), FIXTURE.vocab_size).merges;
    assert.deepEqual(
      merges.map((m) => m.join(' ')),
      FIXTURE.merges,
      `chunks of ${size} bytes`,
    );
  }
  // The tokenizer trained whole, and from counts: the same merges, and <|endoftext|> after them.
  for (const tok of [
    trainTokenizer(TEXT, { kind: 'bpe', vocabSize: FIXTURE.vocab_size + 1 }),
    trainBpeFromCounts(streamedCounts(4096), FIXTURE.vocab_size + 1),
  ]) {
    const json = JSON.parse(tok.toJSON());
    assert.deepEqual(json.model.merges, FIXTURE.merges);
    assert.equal(json.model.vocab['<|endoftext|>'], FIXTURE.vocab_size);
  }
});

test('the count of words is bounded: past the cap the rarest are dropped, the frequent kept', () => {
  const exact = streamedCounts(4096).end();
  const bounded = streamedCounts(4096, 2000);
  const counts = bounded.end();
  assert.ok(exact.size > 4000, `${exact.size} distinct words`);
  assert.equal(streamedCounts(4096).prunedBelow, 0);
  assert.ok(counts.size <= 2000 && bounded.prunedBelow > 0, `${counts.size} kept, pruned below ${bounded.prunedBelow}`);
  const top = (m: ReadonlyMap<string, number>) => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 50);
  assert.deepEqual(top(counts), top(exact));
  // Still a vocabulary of the asked size.
  assert.equal(trainBpeFromCounts(bounded, 800).vocabSize, 800);
});

test('pruning drops only the words it must: words seen thrice outlive a flood of words seen once', () => {
  // Words of letters only: " ab", " ac"… (a digit would start a piece of its own).
  const word = (prefix: string, i: number) => ` ${prefix}${i.toString(26).replace(/./g, (d) => String.fromCharCode(97 + parseInt(d, 26)))}`;
  const counter = new PreTokenCounter(100);
  const thrice = Array.from({ length: 30 }, (_, i) => word('a', i));
  counter.push(thrice.join('').repeat(3));
  for (let i = 0; i < 2000; i++) counter.push(word('u', i));
  const counts = counter.end();
  assert.equal(counter.prunedBelow, 2);
  for (const w of thrice) assert.equal(counts.get(w), 3, w);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCorpus } from '../../src/core/corpus';
import { trainTokenizer } from '../../src/core/tokenizer';
import { streamTextFile } from '../../src/core/prepared/source-text';
import { prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';
import { tokenChunks } from '../../src/core/prepared/token-file';
import { KOREAN, tempDir } from './helpers';

// Korean, English, 2-, 3- and 4-byte characters (an emoji, a CJK extension B ideograph), two BOMs.
const MIXED = '\ufeff\ufeff' + readFileSync(KOREAN, 'utf8').slice(0, 3000) + '\nCafé ∑ 😀 𠀋 end\r\n\ttabs 😀😀';

test('the char tokenizer encodes UTF-8 bytes read a chunk at a time into the ids of the decoded text', () => {
  const file = join(tempDir(), 'mixed.txt');
  writeFileSync(file, MIXED);
  const corpus = readCorpus(file);
  // Trained on part of the text: the rest has characters outside the vocabulary (<unk>), the emoji among them.
  for (const tok of [trainTokenizer(corpus.text, { kind: 'char' }), trainTokenizer(corpus.text.slice(0, 1500), { kind: 'char' })]) {
    const want = Array.from(tok.encodeAll(corpus.text));
    for (const chunkBytes of [1, 2, 5, 7, 4096]) {
      const encoder = tok.utf8Encoder();
      assert.ok(encoder, 'a char tokenizer encodes UTF-8 bytes');
      const got: number[] = [];
      const source = streamTextFile(file, { utf8: (bytes) => got.push(...encoder.encode(bytes)) }, { chunkBytes });
      assert.deepEqual(got, want, `chunks of ${chunkBytes} bytes`);
      assert.equal(source.sha256, corpus.sha256);
    }
  }
  const bpe = trainTokenizer(corpus.text, { kind: 'bpe', vocabSize: 300 });
  assert.equal(bpe.utf8Encoder(), undefined, 'BPE sees across characters: it is given text');
});

test('a char preparation of that text stores those ids, their sha256 and their counts', () => {
  const dir = tempDir();
  const file = join(dir, 'mixed.txt');
  writeFileSync(file, MIXED.repeat(3));
  const corpus = readCorpus(file);
  const prepared = prepareCorpusSync(file, { kind: 'char' }, { cacheRoot: join(dir, 'cache') });
  try {
    const want = prepared.tokenizer.encodeAll(corpus.text);
    const got: number[] = [];
    for (const chunk of tokenChunks(prepared.tokens, 1000)) got.push(...chunk);
    assert.deepEqual(got, Array.from(want));
    assert.equal(prepared.meta.tokens_sha256, createHash('sha256').update(new Uint16Array(want)).digest('hex'));
    assert.deepEqual(prepared.meta.source, { path: file, bytes: corpus.bytes, sha256: corpus.sha256 });
    const counts = new Array<number>(prepared.tokenizer.vocabSize).fill(0);
    for (const id of want) counts[id]++;
    assert.deepEqual(prepared.meta.id_counts, counts);
  } finally {
    prepared.tokens.close();
  }
});

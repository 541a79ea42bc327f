import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCorpus } from '../../src/core/corpus';
import { trainTokenizer } from '../../src/core/tokenizer';
import { PreparationCancelled, prepareCorpus, prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';
import { tokenChunks, tokenDtype } from '../../src/core/prepared/token-file';
import { checkDiskSpace } from '../../src/core/prepared/prepared-cache';
import { streamTextFile } from '../../src/core/prepared/source-text';
import { ENGLISH, KOREAN, tempDir, userError } from './helpers';

function allIds(p: ReturnType<typeof prepareCorpusSync>): number[] {
  const ids: number[] = [];
  for (const chunk of tokenChunks(p.tokens, 1000)) ids.push(...chunk);
  return ids;
}

test('a prepared text holds exactly the ids of encoding it whole (char and byte-level BPE, Korean and English), and is reused', () => {
  const root = tempDir();
  for (const [file, recipe] of [
    [KOREAN, { kind: 'char' as const }],
    [ENGLISH, { kind: 'bpe' as const, vocabSize: 300 }],
  ] as const) {
    const corpus = readCorpus(file);
    const whole = trainTokenizer(corpus.text, recipe);
    const first = prepareCorpusSync(file, recipe, { cacheRoot: root });
    try {
      assert.equal(first.reused, false);
      assert.equal(first.tokenizer.toJSON(), whole.toJSON());
      assert.deepEqual(allIds(first), Array.from(whole.encodeAll(corpus.text)));
      assert.equal(first.meta.dtype, 'uint16');
      assert.deepEqual(first.meta.source, { path: file, bytes: corpus.bytes, sha256: corpus.sha256 });
    } finally {
      first.tokens.close();
    }
    const phases: string[] = [];
    const again = prepareCorpusSync(file, recipe, { cacheRoot: root, onProgress: (p) => phases.push(p.phase) });
    again.tokens.close();
    assert.equal(again.reused, true);
    assert.deepEqual(phases, [], 'an unchanged preparation is neither read nor hashed again');
    assert.equal(again.dir, first.dir);
    // A resume names the tokenizer itself: the same folder.
    const resumed = prepareCorpusSync(file, whole, { cacheRoot: root });
    resumed.tokens.close();
    assert.equal(resumed.dir, first.dir);
    assert.equal(resumed.reused, true);
  }
});

test('chunk edges inside a Hangul syllable and a BOM read as the whole file does', () => {
  const dir = tempDir();
  const file = join(dir, 'bom.txt');
  writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(KOREAN)]));
  let text = '';
  // 7-byte chunks cut most 3-byte syllables.
  const source = streamTextFile(file, (t) => (text += t), { chunkBytes: 7 });
  const corpus = readCorpus(file);
  assert.equal(text, corpus.text);
  assert.equal(source.sha256, corpus.sha256);
  assert.equal(source.bytes, corpus.bytes);
});

test('bad text is refused in one line with its offset, as a whole read refuses it', () => {
  const dir = tempDir();
  const cases: [string, Buffer, RegExp][] = [
    ['empty.txt', Buffer.alloc(0), /empty: nothing to train on/],
    ['bom-only.txt', Buffer.from([0xef, 0xbb, 0xbf]), /empty: nothing to train on/],
    ['nul.txt', Buffer.concat([Buffer.from('a'.repeat(20)), Buffer.from([0])]), /NUL byte at offset 20/],
    ['latin1.txt', Buffer.concat([Buffer.from('한국어 '.repeat(5)), Buffer.from([0xe9, 0x41])]), /first bad byte at offset 51/],
    ['cut.txt', Buffer.concat([Buffer.from('ab'.repeat(10)), Buffer.from([0xed, 0x95])]), /first bad byte at offset 20/],
  ];
  for (const [name, bytes, re] of cases) {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    assert.throws(() => readCorpus(file), userError(re), name);
    assert.throws(() => streamTextFile(file, () => undefined, { chunkBytes: 4 }), userError(re), name);
    assert.throws(() => prepareCorpusSync(file, { kind: 'char' }, { cacheRoot: join(dir, 'cache') }), userError(re), name);
  }
  // A folder is prepared as documents: the first bad one is named.
  assert.throws(() => prepareCorpusSync(dir, { kind: 'char' }, { cacheRoot: join(dir, 'cache') }), userError(/bom-only\.txt is empty/));
});

test('truncated or corrupted prepared data is detected and prepared again, never used', () => {
  const root = tempDir();
  const first = prepareCorpusSync(KOREAN, { kind: 'char' }, { cacheRoot: root });
  first.tokens.close();
  const ids = allIds(prepareCorpusSync(KOREAN, { kind: 'char' }, { cacheRoot: root }));
  const tokensFile = join(first.dir, 'tokens.bin');
  for (const damage of [
    () => truncateSync(tokensFile, statSync(tokensFile).size - 2),
    () => {
      const b = readFileSync(tokensFile);
      b[100] ^= 1;
      writeFileSync(tokensFile, b);
    },
    () => writeFileSync(join(first.dir, 'prepared.json'), '{"format":'),
  ]) {
    damage();
    const notices: string[] = [];
    const phases = new Set<string>();
    const again = prepareCorpusSync(
      KOREAN,
      { kind: 'char' },
      { cacheRoot: root, onNotice: (m) => notices.push(m), onProgress: (p) => phases.add(p.phase) },
    );
    assert.equal(again.reused, false);
    assert.equal(notices.length, 1);
    assert.match(notices[0], /damaged \((tokens\.bin is \d+ bytes|tokens\.bin does not match|prepared\.json)/);
    assert.deepEqual(allIds(again), ids);
    assert.ok(phases.has('encode'));
    again.tokens.close();
  }
});

test('a changed text is prepared anew; cancelling leaves no folder behind', () => {
  const dir = tempDir();
  const root = join(dir, 'cache');
  const file = join(dir, 'notes.txt');
  writeFileSync(file, readFileSync(ENGLISH, 'utf8').slice(0, 20000));
  const a = prepareCorpusSync(file, { kind: 'char' }, { cacheRoot: root });
  a.tokens.close();
  appendFileSync(file, 'More lines.\n');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  const b = prepareCorpusSync(file, { kind: 'char' }, { cacheRoot: root });
  b.tokens.close();
  assert.notEqual(b.dir, a.dir);
  assert.equal(b.meta.tokens, a.meta.tokens + 'More lines.\n'.length);

  const big = join(dir, 'big.txt');
  writeFileSync(big, readFileSync(KOREAN, 'utf8').repeat(8));
  let calls = 0;
  const before = readdirSync(root).sort();
  assert.throws(
    () => prepareCorpusSync(big, { kind: 'char' }, { cacheRoot: root, shouldStop: () => ++calls > 2 }),
    (e: unknown) => e instanceof PreparationCancelled,
  );
  assert.deepEqual(readdirSync(root).sort(), before);
});

test('limits that are real: past 64 MB is prepared; a disk without room for the ids, or a vocabulary past uint32, is refused in one line', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'big.txt');
    const piece = readFileSync(KOREAN, 'utf8') + readFileSync(ENGLISH, 'utf8');
    const copies = Math.ceil((65 * 2 ** 20) / Buffer.byteLength(piece));
    writeFileSync(file, piece.repeat(copies));
    assert.throws(() => readCorpus(file), userError(/over the 64 MB limit/));
    const prepared = prepareCorpusSync(file, { kind: 'char' }, { cacheRoot: join(dir, 'cache') });
    prepared.tokens.close();
    assert.equal(prepared.meta.tokens, [...piece].length * copies);

    assert.throws(
      () => checkDiskSpace(dir, Number.MAX_SAFE_INTEGER, file),
      userError(/needs up to .* of disk space for its token ids and .* has .* free: free some space or set CORPUS_LAB_CACHE/),
    );
    assert.equal(tokenDtype(65536), 'uint16');
    assert.equal(tokenDtype(65537), 'uint32');
    assert.throws(() => tokenDtype(2 ** 32 + 1), userError(/past what uint32 token ids hold/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("preparing lets the event loop in between chunks, so a cancel that arrives as a message (the worker's) stops it", async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'twelve-mb.txt');
    const piece = readFileSync(KOREAN, 'utf8') + readFileSync(ENGLISH, 'utf8');
    writeFileSync(file, piece.repeat(Math.ceil((12 << 20) / Buffer.byteLength(piece))));
    let stop = false;
    setImmediate(() => (stop = true));
    await assert.rejects(
      prepareCorpus(file, { kind: 'char' }, { cacheRoot: join(dir, 'cache'), shouldStop: () => stop }),
      (e: unknown) => e instanceof PreparationCancelled,
    );
    assert.deepEqual(
      readdirSync(join(dir, 'cache')).filter((f) => !['sources', 'tokenizers'].includes(f)),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two runs preparing the same text at once both get the one prepared folder', async () => {
  const root = tempDir();
  const both = await Promise.all([0, 1].map(() => prepareCorpus(KOREAN, { kind: 'char' }, { cacheRoot: root })));
  for (const p of both) p.tokens.close();
  assert.equal(both[0].dir, both[1].dir);
  assert.deepEqual(allIds(prepareCorpusSync(KOREAN, { kind: 'char' }, { cacheRoot: root })).length, both[0].meta.tokens);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CleanOptions, cleanText, parseCleanRules } from '../../src/core/clean';
import { CleanStream } from '../../src/core/clean/clean-stream';
import { corpusSource } from '../../src/core/prepared/corpus-source';
import { cleanedSource } from '../../src/core/prepared/source-cleaned';
import { runSteps } from '../../src/core/prepared/steps';
import { prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';
import { runEstimateJob } from '../../src/worker/jobs/estimate-job';
import { ENGLISH, KOREAN, tempDir, userError } from './helpers';

const ALL = parseCleanRules('front-matter,markup,urls,emoji');

// Every construct a rule removes whole may span lines, so each crosses the edges of small pieces:
// front matter, an HTML comment, a code fence, a link and an image split over lines, a tag with
// attributes on several lines; a CRLF, a combining mark after a line break and a run of blank
// lines fall on piece edges too.
const SPANNING =
  '---\ntitle: 연설\ntags: [a, b]\n---\n' +
  '# 제목\r\n\r\n\r\n\r\n본문 <!-- 여러 줄\n주석 --> 끝.\n' +
  '```js\nconst x = 1;\n\n\nconsole.log(x);\n```\n' +
  'A [link whose\nlabel spans](http://example.com/a\n) and ![an\nimage](pic.png) here.\n' +
  '<div\n  class="x"\n  id="y">안</div> &amp; &#54620;\n' +
  'e\n\u0301 and \u1100\n\u1161 👍 https://example.com/x 끝  \n\n\n\n' +
  '**굵게** and *기울임* — `코드`\n\n\n';

function streamed(text: string, options: CleanOptions, pieceChars: number, pushChars: number): string {
  const out: string[] = [];
  const stream = new CleanStream(options, (t) => out.push(t), 'spanning.md', { pieceChars });
  // Pushed whole characters at a time, as a source hands them over.
  const chars = [...text];
  for (let i = 0; i < chars.length; i += pushChars) stream.push(chars.slice(i, i + pushChars).join(''));
  stream.endDocument();
  assert.deepEqual(stream.report(), cleanText(text, options).report, `report, pieces of ${pieceChars}, pushes of ${pushChars}`);
  return out.join('');
}

test('cleaning in small pieces gives the text and report of cleaning the whole, constructs crossing every piece edge', () => {
  for (const rules of ['', 'front-matter', 'markup', 'urls,emoji', 'front-matter,markup,urls,emoji']) {
    const options = parseCleanRules(rules);
    const whole = cleanText(SPANNING, options).text;
    for (const pieceChars of [1, 2, 5, 13, 64])
      for (const pushChars of [1, 3, 7, 1000])
        assert.equal(streamed(SPANNING, options, pieceChars, pushChars), whole, `${rules}: ${pieceChars}/${pushChars}`);
  }
  // The constructs were removed, not merely kept alike.
  const all = cleanText(SPANNING, ALL).text;
  assert.doesNotMatch(all, /<!--|```|\]\(|<div|title:/);
  assert.ok(
    all.startsWith('제목\n\n본문  끝.\nconst x = 1;\n\nconsole.log(x);\n\nA link whose\nlabel spans and an\nimage here.\n안 & 한\n'),
    all,
  );
});

test('a construct still open, or a line, longer than what cleaning may hold is refused in one line naming it', () => {
  const stream = (text: string) => () => {
    const s = new CleanStream(ALL, () => undefined, 'big.md', { pieceChars: 4, holdChars: 64 });
    for (let i = 0; i < text.length; i += 10) s.push(text.slice(i, i + 10));
    s.endDocument();
  };
  assert.throws(
    stream('a\nb\n```\n' + 'code\n'.repeat(30)),
    userError(/^big\.md: from line 3 on, a code fence \(```\) is not closed within/),
  );
  assert.throws(
    stream('a\n' + 'x'.repeat(100) + '\n'),
    userError(/^big\.md: line 2 is longer than .* characters, so it cannot be cleaned a piece at a time/),
  );
  // Closed in time, the same construct goes through.
  assert.doesNotThrow(stream('a\n```\n' + 'code\n'.repeat(5) + '```\n' + 'b\n'.repeat(40)));
});

test('a cleaned source streams each document of a folder cleaned on its own, read in chunks of a few bytes', () => {
  const dir = tempDir();
  const docs = join(dir, 'docs');
  mkdirSync(docs);
  const ko = readFileSync(KOREAN, 'utf8').slice(0, 3000);
  const en = readFileSync(ENGLISH, 'utf8').slice(0, 2000);
  const texts = [
    SPANNING,
    '\n\n' + ko.replace(/\n/g, '\r\n') + '\n\n\n',
    '---\nx: 1\n...\n' + en + '<!-- never closed\n' + en.slice(0, 300),
  ];
  texts.forEach((t, i) => writeFileSync(join(docs, `${i}.md`), t));
  for (const chunkBytes of [1, 5, 4096]) {
    const cleaned: string[] = [];
    let current = '';
    const source = cleanedSource(corpusSource(docs), ALL);
    runSteps(
      source.steps(
        (t) => (current += t),
        () => {
          cleaned.push(current);
          current = '';
        },
        { chunkBytes },
      ),
    );
    assert.deepEqual(
      cleaned,
      texts.map((t) => cleanText(t, ALL).text),
      `chunks of ${chunkBytes} bytes`,
    );
  }
});

test('preparing with cleaning gives the ids of the cleaned text; cleaned and uncleaned preparations are kept apart, each reused', () => {
  const dir = tempDir();
  const file = join(dir, 'notes.md');
  writeFileSync(file, SPANNING + readFileSync(KOREAN, 'utf8').slice(0, 2000));
  const cache = join(dir, 'cache');
  const text = readFileSync(file, 'utf8');
  for (const recipe of [{ kind: 'char' as const }, { kind: 'bpe' as const, vocabSize: 300 }]) {
    const plain = prepareCorpusSync(file, recipe, { cacheRoot: cache });
    const cleaned = prepareCorpusSync(file, recipe, { cacheRoot: cache, clean: ALL });
    const again = prepareCorpusSync(file, recipe, { cacheRoot: cache, clean: ALL });
    const markupOnly = prepareCorpusSync(file, recipe, { cacheRoot: cache, clean: { markup: true } });
    try {
      const ids = (p: typeof plain) => Array.from(p.tokens.view(0, p.tokens.length));
      const tok = cleaned.tokenizer;
      assert.deepEqual(ids(cleaned), Array.from(tok.encodeAll(cleanText(text, ALL).text)), recipe.kind);
      assert.deepEqual(ids(plain), Array.from(plain.tokenizer.encodeAll(text)), 'without --clean the text is as it is');
      assert.equal(new Set([plain.dir, cleaned.dir, markupOnly.dir]).size, 3, 'the rules are part of the cache key');
      assert.equal(again.dir, cleaned.dir);
      assert.ok(again.reused && !cleaned.reused);
      assert.equal(cleaned.meta.source.sha256, plain.meta.source.sha256, "the text's own sha256, as run.json records it");
      assert.deepEqual(cleaned.meta.source.clean, ['front-matter', 'markup', 'urls', 'emoji']);
      assert.deepEqual(markupOnly.meta.source.clean, ['markup']);
      assert.equal(plain.meta.source.clean, undefined);
    } finally {
      for (const p of [plain, cleaned, again, markupOnly]) p.tokens.close();
    }
  }
});

test('the estimate before a cleaned run counts the cleaned text, and prepares what the run then reuses', async () => {
  const dir = tempDir();
  const file = join(dir, 'notes.md');
  writeFileSync(file, SPANNING + readFileSync(KOREAN, 'utf8').slice(0, 2000));
  process.env.CORPUS_LAB_CACHE = join(dir, 'cache');
  try {
    const e = await runEstimateJob({ corpusPath: file, clean: ALL, preset: 'tiny', backend: 'wasm', measureSteps: 0, maxSteps: 10 });
    assert.equal(e.tokens, [...cleanText(readFileSync(file, 'utf8'), ALL).text].length);
    const prepared = prepareCorpusSync(file, { kind: 'char' }, { clean: ALL });
    prepared.tokens.close();
    assert.equal(prepared.reused, true);
  } finally {
    delete process.env.CORPUS_LAB_CACHE;
  }
});

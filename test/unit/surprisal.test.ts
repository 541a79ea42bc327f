import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { bitsBucket, longestSharedSpan, rankBucket, summarise, tokenSpans } from '../../src/core/surprisal';
import { trainTokenizer } from '../../src/core/tokenizer';
import { shapeDistribution } from '../../src/core/distribution';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { loadModel } from '../../src/worker/jobs/load-model';
import { documentSurprisal } from '../../src/worker/jobs/surprisal-job';
import { tf } from '../../src/worker/engine/backend';
import { parseFromSurprisal, parseToSurprisal } from '../../src/extension/webview/inspect-protocol';
import { KOREAN, TINY_MODEL, tempDir } from './helpers';

test('token spans: byte pieces of one Hangul syllable all point at that syllable; the spans tile the text', () => {
  const text = '대한민국 헌법 😀 abc';
  const tok = trainTokenizer('대한민국 헌법 abc', { kind: 'bpe', vocabSize: 270 });
  const ids = tok.encode(text);
  const spans = tokenSpans(tok, ids, text);
  assert.equal(spans.length, ids.length);
  assert.equal(
    spans.reduce((a, s) => a + s.chars, 0),
    [...text].length,
  );
  for (const s of spans) assert.ok(s.end > s.start && s.end <= text.length);
  assert.equal(spans.at(-1)!.end, text.length);
  // The emoji is unknown to this vocabulary: four byte tokens, each spanning the whole emoji.
  const emoji = text.indexOf('😀');
  const onEmoji = spans.filter((s) => s.start === emoji);
  assert.equal(onEmoji.length, 4);
  assert.ok(onEmoji.every((s) => s.end === emoji + 2));
  const charTok = trainTokenizer('abc', { kind: 'char' });
  assert.deepEqual(
    tokenSpans(charTok, charTok.encode('ab😀'), 'ab😀').map((s) => [s.start, s.end]),
    [
      [0, 1],
      [1, 2],
      [2, 4],
    ],
  );
});

test('longest shared span, buckets and summary', () => {
  assert.deepEqual(longestSharedSpan('xx the quick fox yy', 'a quick fox jumps over the'), { start: 6, end: 17 }); // ' quick fox '
  assert.deepEqual(longestSharedSpan('zzz', 'abc'), { start: 0, end: 0 });
  assert.deepEqual([1, 10, 11, 100, 101, 1000, 1001].map(rankBucket), [0, 0, 1, 1, 2, 2, 3]);
  assert.deepEqual([0.5, 1, 3.9, 4, 8, 20].map(bitsBucket), [0, 1, 2, 3, 4, 4]);
  const s = summarise([
    { start: 0, end: 1, id: 1, rank: 1, bits: 0.5, chars: 1 },
    { start: 1, end: 2, id: 2, rank: 500, bits: 9, chars: 1 },
    { start: 2, end: 3, id: 3, rank: 2000, bits: 6, chars: 0 },
  ]);
  assert.deepEqual(s.rankHistogram, [1, 0, 1, 1]);
  assert.deepEqual(s.bitsHistogram, [1, 0, 0, 1, 1]);
  assert.equal(s.bitsPerChar, 15.5 / 2);
});

test("document surprisal: each token's rank and bits are those of the model's prediction from what precedes it; copying is found in the training text", async () => {
  const root = tempDir();
  try {
    const corpusPath = join(root, 'ko.txt');
    writeFileSync(corpusPath, readFileSync(KOREAN));
    const result = await runTrainJob(
      { ...TINY_MODEL, corpusPath, tokenizer: 'bpe', vocabSize: 300, maxSteps: 4, runDir: join(root, 'r') },
      () => undefined,
      () => false,
    );
    const loaded = await loadModel(result.checkpoint, 'wasm');
    try {
      const corpus = readFileSync(KOREAN, 'utf8');
      const quoted = corpus.slice(200, 260);
      const text = `새로 쓴 문장입니다. ${quoted} 그리고 끝.`.repeat(3);
      const r = await documentSurprisal(loaded, text);
      const ids = loaded.tokenizer.encode(text);
      const context = loaded.model.config.context;
      assert.ok(ids.length > 2 * context, 'several windows');
      assert.equal(r.scored.length, ids.length - 1);
      assert.equal(r.truncated, false);
      // Spot checks: in the first window (whole prefix) and later (the last ≤ context tokens before).
      for (const target of [1, 5, context, context + 7, ids.length - 1]) {
        const stride = context / 2;
        const w = target <= context ? 0 : Math.ceil((target - context) / stride) * stride;
        const prefix = ids.slice(w, target);
        const logits = tf.tidy(() =>
          tf.slice(loaded.model.forward(tf.tensor2d(prefix, [1, prefix.length], 'int32')), [prefix.length - 1, 0], [1, -1]).dataSync(),
        );
        const shaped = shapeDistribution(logits, { temperature: 1, topK: 0, topP: 1 });
        const t = r.scored[target - 1];
        assert.equal(t.id, ids[target]);
        assert.ok(prefix.length >= Math.min(target, context / 2));
        assert.equal(t.rank, 1 + Array.from(logits).filter((v) => v > logits[ids[target]]).length);
        assert.ok(Math.abs(t.bits + Math.log2(shaped.probs[ids[target]])) < 1e-3, `token ${target}: ${t.bits}`);
      }
      assert.ok(r.copied && r.copied.end - r.copied.start >= quoted.length, JSON.stringify(r.copied));
      assert.ok(corpus.includes(text.slice(r.copied.start, r.copied.end)));
      // Once the training file has been edited, it is no longer the text the model learned: not checked.
      writeFileSync(corpusPath, `${corpus}\n${text}`);
      assert.equal((await documentSurprisal(loaded, text)).copied, undefined);
      assert.equal(
        r.rankHistogram.reduce((a, b) => a + b, 0),
        r.scored.length,
      );
    } finally {
      loaded.model.dispose();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Surprisal webview messages: malformed ones are refused', () => {
  const ok = {
    type: 'surprisal',
    source: 's',
    model: 'm',
    mode: 'rank',
    tokens: 3,
    chars: 3,
    bitsPerChar: 2,
    rankHistogram: [1, 1, 1, 0],
    bitsHistogram: [0, 1, 1, 1, 0],
    truncated: false,
    strings: {},
  };
  assert.ok(parseToSurprisal(ok));
  assert.equal(parseToSurprisal({ ...ok, mode: 'loud' }), undefined);
  assert.equal(parseToSurprisal({ ...ok, rankHistogram: [1, 2] }), undefined);
  assert.equal(parseToSurprisal({ ...ok, copied: { text: 1 } }), undefined);
  assert.deepEqual(parseFromSurprisal({ type: 'mode', mode: 'bits' }), { type: 'mode', mode: 'bits' });
  assert.equal(parseFromSurprisal({ type: 'mode', mode: 'x' }), undefined);
});

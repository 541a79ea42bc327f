import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { bitsPer, computeBaselines, gzipBitsPerByte, textSize, unigramBitsPerChar } from '../../src/core/baselines';
import { trainTokenizer } from '../../src/core/tokenizer';
import { metricBaselines, metricRows, readMetrics } from '../../src/core/metrics';
import { runTrainJob } from '../../src/worker/jobs/train-job';
import { TrainEvent } from '../../src/core/train-events';
import { KOREAN, TINY_MODEL, tempDir } from './helpers';

test('unigram bits per character: a uniform alphabet costs log2 of its size; unseen characters are smoothed, never infinite', () => {
  assert.ok(Math.abs(unigramBitsPerChar('abcd'.repeat(1000), 'abcdabcd') - Math.log2(4 + 4 / 4000)) < 1e-3);
  assert.ok(unigramBitsPerChar('aaaaab', 'aaaa') < unigramBitsPerChar('aaaaab', 'bbbb'));
  assert.ok(Number.isFinite(unigramBitsPerChar('aaaa', 'z')));
  // Characters, not UTF-16 units: one syllable, one character.
  assert.ok(Math.abs(unigramBitsPerChar('가나'.repeat(500), '가나') - 1) < 1e-2);
});

test('gzip bits per byte: what node:zlib compresses the bytes to, and repetitive text below random text', () => {
  const bytes = new TextEncoder().encode('the cat sat on the mat. '.repeat(200));
  assert.ok(gzipBitsPerByte(bytes) < 0.5);
  const random = randomBytes(4000);
  assert.ok(gzipBitsPerByte(random) > 7.5);
  assert.equal(gzipBitsPerByte(new Uint8Array(0)), 0);
});

test('baselines of Korean held-out text: characters vs bytes, ln |V|, and nats per token converted both ways', () => {
  const text = '대한민국은 민주공화국이다. 모든 권력은 국민으로부터 나온다.';
  const tok = trainTokenizer(text, { kind: 'bpe', vocabSize: 300 });
  const ids = tok.encode(text);
  const size = textSize(tok, ids);
  assert.deepEqual(size, { chars: [...text].length, bytes: Buffer.byteLength(text) });
  const b = computeBaselines(tok, ids, ids.slice(1), 3.5);
  assert.equal(b.uniform_loss, Math.log(tok.vocabSize));
  assert.equal(b.init_val_loss, 3.5);
  assert.equal(b.val_tokens, ids.length - 1);
  const { bitsPerChar, bitsPerByte } = bitsPer(2, 10, { chars: 20, bytes: 50 });
  assert.ok(Math.abs(bitsPerChar - (2 * 10) / Math.LN2 / 20) < 1e-12);
  assert.ok(Math.abs(bitsPerByte - (2 * 10) / Math.LN2 / 50) < 1e-12);
});

test('training records the baselines first in metrics.jsonl, and each eval event gives bits per character and per byte', async () => {
  const root = tempDir();
  try {
    const events: TrainEvent[] = [];
    await runTrainJob(
      { ...TINY_MODEL, corpusPath: KOREAN, tokenizer: 'bpe', vocabSize: 300, maxSteps: 6, evalEvery: 3, runDir: join(root, 'r') },
      (e) => events.push(e),
      () => false,
    );
    const start = events.find((e) => e.type === 'start');
    assert.ok(start?.type === 'start' && start.baselines);
    const b = start.baselines;
    // An untrained model is close to guessing evenly.
    assert.ok(b.init_val_loss !== undefined && Math.abs(b.init_val_loss - b.uniform_loss) < 0.5, `${b.init_val_loss} vs ${b.uniform_loss}`);
    assert.ok(b.val_bytes > 2 * b.val_chars, 'Korean: most characters are three bytes');
    const metrics = readMetrics(join(root, 'r'));
    assert.equal(metrics[0].type, 'baselines');
    assert.deepEqual(metricBaselines(metrics), b);
    const evals = events.filter((e) => e.type === 'eval');
    assert.ok(evals.length >= 2);
    for (const e of evals) {
      assert.ok(e.type === 'eval' && e.val_bits_per_char !== undefined && e.val_bits_per_byte !== undefined);
      assert.ok(Math.abs(e.val_bits_per_char - (e.val_loss * b.val_tokens) / Math.LN2 / b.val_chars) < 1e-9);
      assert.ok(Math.abs(e.val_bits_per_byte - (e.val_loss * b.val_tokens) / Math.LN2 / b.val_bytes) < 1e-9);
    }
    // The chart's rows: the baselines line is no row; eval rows carry the bits.
    const rows = metricRows(metrics);
    assert.equal(rows.length, metrics.length - 1);
    assert.ok(rows.some((r) => r.val_bits_per_char !== undefined));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the overfitting watch speaks during training: its best step and loss are those of the eval events, after three rises', async () => {
  const root = tempDir();
  try {
    // Random letters: nothing to learn beyond their frequencies, so what the model learns next is memorised.
    let x = 7;
    const letters = Array.from({ length: 1500 }, () => 'abcdefgh'[((x = (x * 1103515245 + 12345) % 2147483648) >> 16) % 8]).join('');
    const corpus = join(root, 'random.txt');
    writeFileSync(corpus, letters);
    const events: TrainEvent[] = [];
    await runTrainJob(
      {
        layers: 1,
        heads: 2,
        width: 64,
        context: 16,
        batch: 8,
        backend: 'wasm',
        seed: 1337,
        lr: 0.01,
        corpusPath: corpus,
        maxSteps: 80,
        evalEvery: 5,
        runDir: join(root, 'r'),
      },
      (e) => events.push(e),
      () => false,
    );
    const i = events.findIndex((e) => e.type === 'notice' && e.code === 'overfitting');
    assert.ok(i > 0, 'no overfitting notice');
    const notice = events[i];
    const evals = events.slice(0, i).flatMap((e) => (e.type === 'eval' ? [e] : []));
    const best = evals.reduce((a, b) => (b.val_loss < a.val_loss ? b : a));
    assert.ok(notice.type === 'notice' && notice.best_step === best.step && notice.best_val_loss === best.val_loss);
    const last = evals.slice(-4).map((e) => e.val_loss);
    assert.ok(last[1] > last[0] && last[2] > last[1] && last[3] > last[2], `${last}`);
    assert.match(notice.message, /overfitting.*--dropout/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

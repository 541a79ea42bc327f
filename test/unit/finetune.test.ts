import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { trainTokenizer } from '../../src/core/tokenizer';
import { charVocabulary, extendCharTokenizer, extendEmbedding, replayRows, unseenCharacters } from '../../src/core/finetune';
import { Tokenizer } from '../../src/core/tokenizer';
import { ModelConfig } from '../../src/core/model-config';
import { ENGLISH, KOREAN } from './helpers';
import { metricRows } from '../../src/core/metrics';

const english = readFileSync(ENGLISH, 'utf8').slice(0, 5000);
const korean = readFileSync(KOREAN, 'utf8').slice(0, 3000);

test('vocabulary pre-flight on Korean text: every unseen character with its count, most frequent first, and their share of the text', () => {
  const tok = trainTokenizer(english, { kind: 'char' });
  const u = unseenCharacters(new Set(charVocabulary(tok.toJSON()).keys()), korean);
  const known = new Set(english);
  const expected = new Map<string, number>();
  for (const ch of korean) if (!known.has(ch)) expected.set(ch, (expected.get(ch) ?? 0) + 1);
  assert.deepEqual(new Map(u.chars.map((c) => [c.char, c.count])), expected);
  assert.ok(u.chars.every((c, i) => i === 0 || u.chars[i - 1].count >= c.count));
  const total = [...korean].length;
  assert.equal(u.share, [...expected.values()].reduce((a, b) => a + b, 0) / total);
  assert.ok(u.chars.some((c) => c.char === '민'));
});

test('extending a char vocabulary keeps the old ids, gives each new character its own id, and grows the embedding with N(0, 0.02) rows', () => {
  const tok = trainTokenizer(english, { kind: 'char' });
  const u = unseenCharacters(new Set(charVocabulary(tok.toJSON()).keys()), korean);
  const grown = Tokenizer.fromJSON(
    extendCharTokenizer(
      tok.toJSON(),
      u.chars.map((c) => c.char),
    ),
  );
  assert.equal(grown.vocabSize, tok.vocabSize + u.chars.length);
  assert.deepEqual(grown.encode(english.slice(0, 300)), tok.encode(english.slice(0, 300)));
  const ids = grown.encode(korean);
  assert.ok(!ids.includes(0), 'no <unk> left');
  assert.equal(grown.decode(ids), korean);
  const config: ModelConfig = {
    vocabSize: tok.vocabSize,
    context: 8,
    layers: 1,
    heads: 1,
    width: 64,
    norm: 'layernorm',
    dropout: 0,
    bias: true,
  };
  const old = new Float32Array(tok.vocabSize * 64).map((_, i) => i);
  const { config: c2, weights } = extendEmbedding(
    config,
    new Map([['transformer.wte.weight', { shape: [tok.vocabSize, 64], data: old }]]),
    u.chars.length,
    1,
  );
  assert.equal(c2.vocabSize, grown.vocabSize);
  const wte = weights.get('transformer.wte.weight')!;
  assert.deepEqual(wte.shape, [grown.vocabSize, 64]);
  assert.deepEqual(wte.data.subarray(0, old.length), old);
  const added = wte.data.subarray(old.length);
  const std = Math.sqrt(added.reduce((s, v) => s + v * v, 0) / added.length);
  assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
});

test('replay swaps about FRACTION of the rows for windows of the old text, the same rows for the same (seed, step)', () => {
  const context = 4;
  const batch = 8;
  const old = Int32Array.from({ length: 500 }, (_, i) => 1000 + i);
  let replaced = 0;
  for (let step = 0; step < 500; step++) {
    const inputs = new Int32Array(batch * context);
    const targets = new Int32Array(batch * context);
    const n = replayRows(old, 0.25, 7, step, batch, context, inputs, targets);
    const again = [new Int32Array(batch * context), new Int32Array(batch * context)];
    assert.equal(replayRows(old, 0.25, 7, step, batch, context, again[0], again[1]), n);
    assert.deepEqual(again[0], inputs);
    let rows = 0;
    for (let r = 0; r < batch; r++) {
      if (inputs[r * context] === 0) continue;
      rows++;
      for (let k = 0; k < context; k++) {
        assert.equal(inputs[r * context + k], inputs[r * context] + k);
        assert.equal(targets[r * context + k], inputs[r * context + k] + 1);
      }
    }
    assert.equal(rows, n);
    replaced += n;
  }
  assert.ok(Math.abs(replaced / (500 * batch) - 0.25) < 0.03, `${replaced / (500 * batch)}`);
  assert.equal(replayRows(old, 0, 7, 1, batch, context, new Int32Array(batch * context), new Int32Array(batch * context)), 0);
});

test("the loss chart's rows carry the forgetting meter (base_val_loss) of fine-tuning evaluations", () => {
  const rows = metricRows([
    { type: 'step', step: 1, loss: 3 },
    { type: 'eval', step: 1, loss: 3, val_loss: 2.5, base_val_loss: 1.75 },
    { type: 'eval', step: 2, loss: 3, val_loss: 2.4 },
  ]);
  assert.deepEqual(rows, [
    { step: 1, loss: 3 },
    { step: 1, val_loss: 2.5, base_val_loss: 1.75 },
    { step: 2, val_loss: 2.4 },
  ]);
});

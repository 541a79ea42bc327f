import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import {
  LANGUAGE_MARGIN,
  MOSTLY_UNKNOWN,
  bestTrainedOnFile,
  bitsPerByte,
  chooseServingModel,
  takesFileFrom,
  unknownLetterShare,
} from '../../src/core/model-choice';
import { ENGLISH, KOREAN } from './helpers';

const english = readFileSync(ENGLISH, 'utf8').slice(0, 20_000);
const korean = readFileSync(KOREAN, 'utf8').slice(0, 20_000);
// Texts the tokenizers were not trained on.
const englishProse = 'The quick brown fox jumps over the lazy dog, and then it runs away into the night.';
const koreanProse = '모든 국민은 인간으로서의 존엄과 가치를 가지며, 행복을 추구할 권리를 가진다.';

const share = (t: Tokenizer, text: string) => unknownLetterShare(text, t.learnedCharacters());

for (const kind of ['char', 'bpe'] as const) {
  test(`${kind}: a tokenizer trained on English knows English letters and not Korean ones, and the other way round`, () => {
    const en = trainTokenizer(english, { kind, vocabSize: kind === 'bpe' ? 512 : undefined });
    const ko = trainTokenizer(korean, { kind, vocabSize: kind === 'bpe' ? 512 : undefined });
    assert.ok(share(en, englishProse)! <= 0.05, `English tokenizer on English: ${share(en, englishProse)}`);
    assert.equal(share(en, koreanProse), 1, 'English tokenizer on Korean');
    assert.ok(share(ko, koreanProse)! < MOSTLY_UNKNOWN, `Korean tokenizer on Korean: ${share(ko, koreanProse)}`);
    assert.ok(share(ko, englishProse)! >= MOSTLY_UNKNOWN, `Korean tokenizer on English: ${share(ko, englishProse)}`);
    // Mixed text: unknown letters add up, whatever the spaces and digits between them.
    const letters = (s: string) => [...s].filter((c) => /\p{L}/u.test(c)).length;
    const mixed = `${englishProse} 12 — ${koreanProse}`;
    assert.equal(
      Math.round(share(en, mixed)! * letters(mixed)),
      Math.round(share(en, englishProse)! * letters(englishProse)) + letters(koreanProse),
    );
  });
}

test('the characters a byte-level BPE learned are those in its merges, not its 256 single bytes', () => {
  const ko = trainTokenizer(korean, { kind: 'bpe', vocabSize: 512 });
  const learned = ko.learnedCharacters()!;
  assert.ok(learned.has('국') && learned.has(' '));
  assert.ok(!learned.has('q') && !learned.has('\uFFFD'));
  // <|endoftext|> is special: its letters are not learned text.
  assert.ok(!learned.has('x'));
  // Without merges, a byte model tells nothing: every text is as known as any other.
  const bytes = trainTokenizer(korean, { kind: 'bpe', vocabSize: 257 });
  assert.equal(bytes.learnedCharacters(), null);
  assert.equal(unknownLetterShare(englishProse, null), 0);
});

test('text without letters gives no share (no evidence either way)', () => {
  const en = trainTokenizer(english, { kind: 'char' });
  assert.equal(share(en, ''), undefined);
  assert.equal(share(en, '  12, 34 — (56)\n'), undefined);
});

test('the serving model: the choice, else the model trained on the file, else the language, else the default', () => {
  const candidates = [
    { model: 'ko', unknownShare: 0.02 },
    { model: 'en', unknownShare: 0.9 },
  ];
  assert.deepEqual(chooseServingModel({ chosen: 'x', trainedOnFile: 'en', defaultModel: 'en', candidates }), {
    model: 'x',
    reason: 'chosen',
  });
  assert.deepEqual(chooseServingModel({ trainedOnFile: 'en', defaultModel: 'en', candidates }), { model: 'en', reason: 'trained' });
  assert.deepEqual(chooseServingModel({ defaultModel: 'en', candidates }), { model: 'ko', reason: 'language' });
  // The default knows the text about as well as the best: it stays.
  assert.deepEqual(
    chooseServingModel({
      defaultModel: 'en',
      candidates: [
        { model: 'ko', unknownShare: 0 },
        { model: 'en', unknownShare: LANGUAGE_MARGIN / 2 },
      ],
    }),
    { model: 'en', reason: 'default' },
  );
  // No model knows the text: the default serves (and completion then stays quiet).
  assert.deepEqual(
    chooseServingModel({
      defaultModel: 'en',
      candidates: [
        { model: 'ko', unknownShare: 0.8 },
        { model: 'en', unknownShare: 1 },
      ],
    }),
    { model: 'en', reason: 'default' },
  );
  // No letters yet: the default.
  assert.deepEqual(chooseServingModel({ defaultModel: 'en', candidates: [{ model: 'ko', unknownShare: undefined }] }), {
    model: 'en',
    reason: 'default',
  });
  // Ties go to the first candidate (the newest run).
  assert.deepEqual(
    chooseServingModel({
      defaultModel: 'en',
      candidates: [
        { model: 'ko-new', unknownShare: 0 },
        { model: 'ko-old', unknownShare: 0 },
        { model: 'en', unknownShare: 1 },
      ],
    }),
    { model: 'ko-new', reason: 'language' },
  );
  assert.equal(chooseServingModel({ candidates: [] }), undefined);
  assert.deepEqual(chooseServingModel({ candidates }), { model: 'ko', reason: 'language' });
});

test('the model trained on a file that serves it: the best by validation loss in bits per byte, never an experiment arm by being newest', () => {
  const original = { model: 'ln', valLoss: 1.9, tokensPerByte: 1 / 3 };
  // Issue 18 item 2: the DyT twin (newest, an experiment arm) must not take the file, even with a lower loss.
  const twin = { model: 'dyt', valLoss: 1.5, tokensPerByte: 1 / 3, experiment: true };
  assert.equal(bestTrainedOnFile([twin, original]), 'ln');
  // A newer, worse run does not take it from a better one; a newer, better one does.
  assert.equal(bestTrainedOnFile([{ model: 'new', valLoss: 2.2, tokensPerByte: 1 / 3 }, original]), 'ln');
  assert.equal(bestTrainedOnFile([{ model: 'new', valLoss: 1.7, tokensPerByte: 1 / 3 }, original]), 'new');
  // Different tokenizers compare per byte of the file: a BPE token spans more text, so more nats per token can be fewer bits.
  const bpe = { model: 'bpe', valLoss: 3.0, tokensPerByte: 1 / 6 };
  assert.ok(bitsPerByte(bpe) < bitsPerByte(original));
  assert.equal(bestTrainedOnFile([original, bpe]), 'bpe');
  // The active model, when trained on the file, serves it (the user chose it, or it won the file) — an arm included.
  assert.equal(bestTrainedOnFile([original, bpe], 'ln'), 'ln');
  assert.equal(bestTrainedOnFile([twin, original], 'dyt'), 'dyt');
  // Ties go to the first (the newest run); unknown losses lose to known ones; arms alone serve nothing.
  assert.equal(bestTrainedOnFile([{ ...original, model: 'ln2' }, original]), 'ln2');
  assert.equal(bestTrainedOnFile([{ model: 'unknown' }, original]), 'ln');
  assert.equal(bestTrainedOnFile([twin]), undefined);
  assert.ok(Math.abs(bitsPerByte({ valLoss: Math.LN2 * 3, tokensPerByte: 1 / 3 }) - 1) < 1e-12);
  assert.equal(bitsPerByte({ valLoss: 2 }), Infinity);
});

test('a new model takes its file only from a worse model, never as an experiment arm, never from the user’s choice', () => {
  const serving = { model: 'ln', valLoss: 1.9, tokensPerByte: 1 / 3 };
  assert.equal(takesFileFrom({ model: 'x', valLoss: 1.7, tokensPerByte: 1 / 3 }, serving), true);
  assert.equal(takesFileFrom({ model: 'x', valLoss: 1.9, tokensPerByte: 1 / 3 }, serving), false, 'a tie keeps the one serving');
  assert.equal(takesFileFrom({ model: 'x', valLoss: 2.4, tokensPerByte: 1 / 3 }, serving), false);
  assert.equal(takesFileFrom({ model: 'x', valLoss: 1.2, tokensPerByte: 1 / 3, experiment: true }, serving), false);
  assert.equal(takesFileFrom({ model: 'x', valLoss: 1.2, tokensPerByte: 1 / 3, experiment: true }, undefined), false);
  assert.equal(takesFileFrom({ model: 'x', valLoss: 1.2, tokensPerByte: 1 / 3 }, { ...serving, chosen: true }), false);
  // No model trained on the file serves it, or the one serving it has no known loss: the new one takes it.
  assert.equal(takesFileFrom({ model: 'x', valLoss: 3, tokensPerByte: 1 / 3 }, undefined), true);
  assert.equal(takesFileFrom({ model: 'x', valLoss: 3, tokensPerByte: 1 / 3 }, { model: 'hf' }), true);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { LANGUAGE_MARGIN, MOSTLY_UNKNOWN, chooseServingModel, unknownLetterShare } from '../../src/core/model-choice';
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

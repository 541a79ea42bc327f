import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { slicesEncodeExactly, textSlices } from '../../src/core/tokenizer/text-slices';
import { ENGLISH, KOREAN } from './helpers';

const TEXT = readFileSync(KOREAN, 'utf8').slice(0, 20_000) + readFileSync(ENGLISH, 'utf8').slice(0, 20_000);
const EDGES =
  "  lead\t and  trail  \r\n\r\n it's  'll <|endoftext|> <|endoftext|>x y<|endoftext|>  👩‍👩‍👧 🇰🇷 e\u0301 \u00a0nbsp\u3000ideo 12 345 ①② next\u0085 \u0085 line\u0085 \n bom\ufeff \ufeff ";
const SAMPLE = EDGES + TEXT + EDGES + TEXT.replace(/\n/g, ' ') + EDGES + 'a\u0085  b '.repeat(5);

const char = trainTokenizer(TEXT, { kind: 'char' });
const bpe = trainTokenizer(TEXT, { kind: 'bpe', vocabSize: 700 });
const gpt2Like = (json: string, change: object) => Tokenizer.fromJSON(JSON.stringify({ ...JSON.parse(json), ...change }));

test('encodeAll cuts a text into slices and gives exactly the ids of encoding it whole', () => {
  const tokenizers = {
    char,
    bpe,
    // U+0085 is White_Space to the byte-level pattern (as in Rust) but not \s to JavaScript: no cut after it.
    'bpe that merges U+0085 with a space': trainTokenizer('a\u0085  b '.repeat(300) + TEXT, { kind: 'bpe', vocabSize: 700 }),
    'bpe with add_prefix_space': gpt2Like(bpe.toJSON(), {
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    }),
  };
  for (const [name, tok] of Object.entries(tokenizers)) {
    const whole = Int32Array.from(tok.encode(SAMPLE));
    for (const size of [1, 7, 100, 4096]) assert.deepEqual(tok.encodeAll(SAMPLE, size), whole, `${name}, slices of ${size}`);
    assert.deepEqual(tok.encodeAll('x'), Int32Array.from(tok.encode('x')));
  }
});

test('slices: cut only between a non-space and a space, and only where nothing sees across the cut', () => {
  const slices = [...textSlices(SAMPLE, 50)];
  assert.equal(slices.join(''), SAMPLE);
  assert.ok(slices.length > 100);
  for (const s of slices.slice(1)) assert.ok(s.startsWith(' '), JSON.stringify(s.slice(0, 10)));
  assert.deepEqual([...textSlices('a'.repeat(500), 50)], ['a'.repeat(500)], 'no space, no cut');

  const raw = (tok: Tokenizer) => JSON.parse(tok.toJSON());
  assert.ok(slicesEncodeExactly(raw(char), 'char'));
  assert.ok(slicesEncodeExactly(raw(bpe), 'bpe'));
  const refused = [
    { normalizer: { type: 'NFC' } },
    { added_tokens: [{ id: 0, content: 'two words', lstrip: false, rstrip: false, single_word: false }] },
    { added_tokens: [{ id: 0, content: '<s>', lstrip: false, rstrip: true, single_word: false }] },
    { pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Isolated', invert: false } },
    { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: false } },
  ];
  for (const change of refused) assert.equal(slicesEncodeExactly({ ...raw(bpe), ...change }, 'bpe'), false, JSON.stringify(change));
  assert.equal(slicesEncodeExactly({ ...raw(char), model: { ...raw(char).model, fuse_unk: true } }, 'char'), false);
  assert.equal(slicesEncodeExactly(raw(bpe), 'imported'), false);
});

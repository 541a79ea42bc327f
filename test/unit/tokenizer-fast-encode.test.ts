import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { matchRustTokenizers } from '../../src/core/tokenizer/rust-parity';
import { fastEncoder } from '../../src/core/tokenizer/fast-encoders';
import { slicesEncodeExactly } from '../../src/core/tokenizer/text-slices';
import { ENGLISH, KOREAN } from './helpers';

const TEXT = readFileSync(KOREAN, 'utf8').slice(0, 12_000) + readFileSync(ENGLISH, 'utf8').slice(0, 12_000);
const EDGES = [
  '',
  "  lead\t and  trail  \r\n\r\n it's  'll 'S 'sa ''s \"'re' x've'd'm't",
  "we're they've I'll it'd 'twas",
  '<|endoftext|> <|endoftext|>x y<|endoftext|><|endoftext|>  <|endof soften oftext ofte x<|endoftext|>',
  '👩‍👩‍👧 🇰🇷 👍🏽 e\u0301 \u00a0nbsp\u3000ideo 12 345 ①② ½ ٣ 𝐀𝐁 𠀀𠀁 x𝟙𝟚',
  'next\u0085 \u0085 line\u0085 \n bom\ufeff \ufeff \u200b zwsp \u2028 \u2029 \u000b\u000c',
  '\u0000\u0007 controls ,.;:!? ... -- ---- __init__ $100 #tag @who 3.14 1,000,000',
  ' \n\n  x  \n \t\ty   ',
  '대한민국은 민주공화국이다. 헌법 제1조 ① 3·1운동 ㄱㄴㄷ \u1100\u1161\u11a8 漢字',
  // One long piece (merged with the heap) and long runs of spaces and punctuation.
  'a'.repeat(300) + ' ' + '대한'.repeat(80) + ' '.repeat(70) + 'x' + '!?'.repeat(60) + 'the'.repeat(50),
  'lone \ud800 high, lone \udc00 low, ab\ud83d',
  'zzqq zzqq zzqqz',
];

const rustLike = (tok: Tokenizer) => {
  const hf = new HfTokenizer(JSON.parse(tok.toJSON()), {});
  matchRustTokenizers(hf);
  return (text: string) => Int32Array.from(hf.encode(text, { add_special_tokens: false }).ids);
};

function fast(tok: Tokenizer) {
  const raw = JSON.parse(tok.toJSON()) as Record<string, unknown>;
  const encoder = fastEncoder(raw, tok.kind, slicesEncodeExactly(raw, tok.kind));
  assert.ok(encoder, `${tok.kind} has a fast encoder`);
  return encoder;
}

/** The parts of a tokenizer.json the tests change. */
interface Raw {
  model: { vocab: Record<string, number>; merges: unknown[]; ignore_merges?: boolean };
  added_tokens: object[];
  pre_tokenizer: object;
}

const withJson = (tok: Tokenizer, change: (raw: Raw) => void) => {
  const raw = JSON.parse(tok.toJSON()) as Raw;
  change(raw);
  return Tokenizer.fromJSON(JSON.stringify(raw));
};

const bpe = trainTokenizer(TEXT, { kind: 'bpe', vocabSize: 900 });
const tokenizers = {
  bpe,
  char: trainTokenizer(TEXT.slice(0, 3000), { kind: 'char' }),
  'bpe, merges of runs of one letter': trainTokenizer('aaaa aaaaaaa aa ' + 'a'.repeat(40) + TEXT, { kind: 'bpe', vocabSize: 700 }),
  // A merge listed twice keeps its last rank; merges read as [a, b] pairs as well as "a b".
  'bpe with a merge listed twice': withJson(bpe, (raw) => raw.model.merges.push(raw.model.merges[3])),
  'bpe with merges as pairs': withJson(bpe, (raw) => (raw.model.merges = raw.model.merges.map((m) => (m as string).split(' ')))),
  // A token no merge makes: with ignore_merges a piece spelled so is that token.
  'bpe with ignore_merges': withJson(bpe, (raw) => {
    raw.model.ignore_merges = true;
    raw.model.vocab['Ġzzqq'] = 900;
  }),
  'bpe with a normalized added token': withJson(bpe, (raw) => {
    raw.added_tokens.push({ id: 900, content: 'ofte', normalized: true, special: false });
    raw.added_tokens.push({ id: 901, content: 'oftext', normalized: true, special: false });
    raw.model.vocab['ofte'] = 900;
    raw.model.vocab['oftext'] = 901;
  }),
};

test('fast encoders give the ids of the tokenizer library (with its Rust fixes) on any text', () => {
  for (const [name, tok] of Object.entries(tokenizers)) {
    const [ours, library] = [fast(tok), rustLike(tok)];
    for (const text of [...EDGES, EDGES.join(''), TEXT])
      assert.deepEqual(ours.encode(text), library(text), `${name}: ${JSON.stringify(text.slice(0, 40))}`);
    assert.deepEqual(Int32Array.from(tok.encode(TEXT)), library(TEXT), `${name}: Tokenizer.encode`);
  }
});

test('a piece met again comes from the cache with the same ids', () => {
  const ours = fast(bpe);
  const once = ours.encode(TEXT);
  assert.deepEqual(ours.encode(TEXT), once);
  assert.deepEqual(ours.encode(TEXT + TEXT), Int32Array.from([...once, ...once]));
});

test('shapes the fast encoders do not cover are left to the library', () => {
  const raw = (tok: Tokenizer) => JSON.parse(tok.toJSON()) as Raw & Record<string, unknown>;
  const shapes: Record<string, unknown>[] = [
    { ...raw(bpe), pre_tokenizer: { ...raw(bpe).pre_tokenizer, add_prefix_space: true } },
    { ...raw(bpe), model: { ...raw(bpe).model, continuing_subword_prefix: '##' } },
    { ...raw(bpe), model: { ...raw(bpe).model, dropout: 0.1 } },
    { ...raw(bpe), added_tokens: [{ id: 0, content: '', normalized: false }] },
  ];
  for (const shape of shapes) assert.equal(fastEncoder(shape, 'bpe', slicesEncodeExactly(shape, 'bpe')), undefined);
  assert.equal(fastEncoder(raw(bpe), 'bpe', false), undefined);
  assert.equal(fastEncoder(raw(bpe), 'imported', true), undefined);
});

test('added tokens marked normalized: false are found first, then the others, as in Rust', () => {
  // Checked with tokenizers 0.23.2: "x<|endoftext|>" → ["x", "<|endoftext|>"]. The JS library
  // searches for all added tokens at once and finds "x<|end" first.
  const tok = withJson(bpe, (raw) => {
    raw.added_tokens.push({ id: 900, content: 'x<|end', normalized: true, special: false });
    raw.model.vocab['x<|end'] = 900;
  });
  const vocab = JSON.parse(tok.toJSON()).model.vocab;
  assert.deepEqual(tok.encode('x<|endoftext|>'), [vocab.x, vocab['<|endoftext|>']]);
  assert.deepEqual(tok.encode('x<|end'), [900]);
});

test('a corpus is encoded several times faster than the tokenizer library does it', () => {
  // Timed side by side in one process, so the machine's load weighs on both alike.
  const corpus = TEXT.repeat(20);
  for (const [name, tok] of Object.entries({ bpe, char: tokenizers.char })) {
    const library = rustLike(tok);
    const time = (run: () => unknown) => {
      const t0 = performance.now();
      run();
      return performance.now() - t0;
    };
    tok.encodeAll(corpus.slice(0, 50_000));
    const ours = Math.min(
      time(() => tok.encodeAll(corpus)),
      time(() => tok.encodeAll(corpus)),
    );
    const theirs = time(() => library(corpus));
    assert.ok(theirs > 3 * ours, `${name}: ${ours.toFixed(0)} ms, the library ${theirs.toFixed(0)} ms`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer, trainTokenizer, decodeStream, defaultBpeVocabSize, Utf8StreamDecoder } from '../../src/core/tokenizer';
import { trainByteLevelBpe } from '../../src/core/tokenizer/bpe-trainer';
import { BYTE_TO_CHAR } from '../../src/core/tokenizer/bytes-to-unicode';
import { isUserError } from '../../src/core/errors';

const KOREAN = readFileSync(join(__dirname, '../../../media/samples/constitution-ko.txt'), 'utf8');
const ENGLISH = readFileSync(join(__dirname, '../../../media/samples/shakespeare.txt'), 'utf8');
const TRICKY = [
  '',
  'a',
  'Hello, world!',
  'a , b',
  '  leading and trailing  \t',
  'line one\r\nline two\rthree\n',
  '대한민국은 민주공화국이다.',
  '\u1100\u1161\u11a8 conjoining jamo (not NFC)',
  'ㄱㄴㄷ compatibility jamo',
  '👩‍👩‍👧 family, 👍🏽 thumbs, 🇰🇷 flag',
  'e\u0301 combining, שָׁלוֹם, مرحبا',
  '\u0000\u0007 controls \uFEFF bom \u200B zwsp',
  "it's we're they'll I'd",
  '<|endoftext|> literal',
  '12345 numbers 3·1운동 ①②',
];

const bpe = trainTokenizer(KOREAN + ENGLISH, { kind: 'bpe', vocabSize: 800 });

test('bpe: decode(encode(x)) === x for any string, Korean, emoji with ZWJ, CRLF included', () => {
  for (const s of TRICKY) assert.equal(bpe.decode(bpe.encode(s)), s, JSON.stringify(s));
  assert.equal(bpe.decode(bpe.encode(KOREAN)), KOREAN);
});

test('bpe: vocabulary size exact, all 256 byte symbols present, <|endoftext|> in vocab and added_tokens', () => {
  assert.equal(bpe.vocabSize, 800);
  const json = JSON.parse(bpe.toJSON());
  for (const c of BYTE_TO_CHAR) assert.ok(c in json.model.vocab, `byte symbol ${c.codePointAt(0)}`);
  assert.equal(json.model.vocab['<|endoftext|>'], 799);
  assert.deepEqual(
    json.added_tokens.map((t: { id: number; content: string }) => [t.id, t.content]),
    [[799, '<|endoftext|>']],
  );
  assert.equal(json.model.merges.length, 800 - 257);
  assert.deepEqual(bpe.encode('<|endoftext|>'), [799]);
});

test('bpe trainer: merges the most frequent pair first, deterministically', () => {
  // "aaab" ×3 and "ab" ×2 → pairs: aa:6, ab:5 → first merge "a a"
  const m = trainByteLevelBpe('aaab aaab aaab ab ab', 256 + 3);
  assert.deepEqual(m.merges[0], ['a', 'a']);
  assert.equal(m.tokens.length, 259);
  assert.deepEqual(trainByteLevelBpe(KOREAN, 600), trainByteLevelBpe(KOREAN, 600));
  const small = trainTokenizer(ENGLISH, { kind: 'bpe', vocabSize: 257 });
  assert.equal(small.vocabSize, 257);
  assert.equal(small.decode(small.encode('hello 대한')), 'hello 대한');
});

test('bpe compresses: Korean and English need fewer tokens than bytes', () => {
  const ko = bpe.encode(KOREAN).length;
  assert.ok(ko < Buffer.byteLength(KOREAN) / 2, `${ko} tokens for ${Buffer.byteLength(KOREAN)} bytes`);
  assert.ok(bpe.encode(ENGLISH).length < ENGLISH.length / 1.5);
});

test('char: every character of the corpus is a token; unseen characters become <unk>', () => {
  const tok = trainTokenizer('hello 세계\n', { kind: 'char' });
  assert.equal(tok.kind, 'char');
  assert.equal(tok.vocabSize, 8 + 1); // h e l o ' ' 세 계 \n, and <unk>
  for (const s of ['hello', '세계', 'he\nllo 세']) assert.equal(tok.decode(tok.encode(s)), s);
  const ids = tok.encode('hex');
  assert.equal(ids.length, 3);
  assert.equal(tok.decode([ids[2]]), '<unk>');
  assert.ok(tok.isByteFallback(ids[2]));
  assert.deepEqual(tok.neverGenerated, [ids[2]]);
  const emoji = trainTokenizer('👩‍👩‍👧\r\n', { kind: 'char' });
  assert.equal(emoji.decode(emoji.encode('👩‍👩‍👧\r\n')), '👩‍👩‍👧\r\n');
  assert.equal(emoji.encode('👩‍👩‍👧').length, 5);
});

test('char on a large corpus: encodes tinyshakespeare-sized text quickly and exactly', () => {
  const big = ENGLISH.repeat(10);
  const tok = trainTokenizer(big, { kind: 'char' });
  const ids = tok.encode(big);
  assert.equal(ids.length, [...big].length);
  assert.equal(tok.decode(ids), big);
});

test('toJSON → fromJSON gives the same encodings; summary hashes the JSON', () => {
  for (const tok of [bpe, trainTokenizer(KOREAN, { kind: 'char' })]) {
    const again = Tokenizer.fromJSON(tok.toJSON());
    assert.equal(again.kind, tok.kind);
    assert.deepEqual(again.encode(KOREAN.slice(0, 500)), tok.encode(KOREAN.slice(0, 500)));
    assert.equal(again.summary().sha256, tok.summary().sha256);
    assert.match(tok.summary().sha256, /^[0-9a-f]{64}$/);
  }
});

test('token bytes concatenate to the UTF-8 of the text; streaming decode never splits a character', () => {
  for (const s of TRICKY.slice(1)) {
    const ids = bpe.encode(s);
    const bytes = Buffer.concat(ids.map((id) => Buffer.from(bpe.tokenBytes(id))));
    assert.deepEqual(bytes, Buffer.from(s, 'utf8'), JSON.stringify(s));
    const stream = decodeStream(bpe);
    const chunks = ids.map((id) => stream.push(id));
    chunks.push(stream.flush());
    assert.equal(chunks.join(''), s);
    for (const c of chunks) assert.ok(!c.includes('\uFFFD') || s.includes('\uFFFD'), `chunk ${JSON.stringify(c)} of ${JSON.stringify(s)}`);
  }
  const d = new Utf8StreamDecoder();
  const bytes = Buffer.from('가👍', 'utf8');
  const out = Array.from(bytes, (b) => d.push(Uint8Array.of(b)));
  assert.deepEqual(out, ['', '', '가', '', '', '', '👍']);
  assert.equal(d.flush(), '');
});

test('token display: byte pieces of a character are marked and shown in hex', () => {
  const tiny = trainTokenizer('abc', { kind: 'bpe', vocabSize: 257 });
  const ids = tiny.encode('가');
  assert.equal(ids.length, 3);
  assert.ok(ids.every((id) => tiny.isByteFallback(id)));
  assert.equal(tiny.tokenText(ids[0]), '<0xEA>');
  assert.ok(!tiny.isByteFallback(tiny.encode('a')[0]));
  assert.equal(tiny.tokenText(tiny.encode(' ')[0]), ' ');
});

test('malformed tokenizer.json is refused with a clear message', () => {
  const good = JSON.parse(bpe.toJSON());
  const cases: [string, RegExp][] = [
    ['not json', /not valid JSON/],
    ['[1,2]', /not a JSON object/],
    ['{}', /no "model" object/],
    [JSON.stringify({ model: { type: 'SentencePieceMagic', vocab: {} } }), /model type "SentencePieceMagic" is not supported/],
    [JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }), /model.vocab is empty/],
    [JSON.stringify({ model: { type: 'Unigram', vocab: [['a', 'x']] } }), /malformed entry/],
    [JSON.stringify({ model: { type: 'BPE', vocab: [] } }), /model.vocab is not an object/],
    [JSON.stringify({ model: { type: 'BPE', vocab: { a: 5 }, merges: [] } }), /ids must be 0…0/],
    [JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 0 }, merges: [] } }), /ids must be|two tokens/],
    [JSON.stringify({ ...good, model: { ...good.model, merges: [42] } }), /malformed entry/],
    [JSON.stringify({ ...good, added_tokens: [{ id: 3, content: 'zzz' }] }), /added token "zzz"/],
    [JSON.stringify({ ...good, added_tokens: [...good.added_tokens, { id: 900, content: '<gap>' }] }), /added token "<gap>" \(id 900\)/],
    [JSON.stringify({ ...good, decoder: null, pre_tokenizer: { type: 'NoSuchPreTokenizer' } }), /could not be loaded|cannot encode/],
  ];
  for (const [text, re] of cases)
    assert.throws(
      () => Tokenizer.fromJSON(text),
      (e: unknown) => isUserError(e) && re.test((e as Error).message),
      String(re),
    );
  assert.throws(
    () => Tokenizer.load('/nonexistent/tokenizer.json'),
    (e: unknown) => isUserError(e) && /no such file/.test((e as Error).message),
  );
});

test('bad vocabulary sizes are refused; the default follows corpus size', () => {
  for (const v of [0, -1, NaN, 1.5, 100, 256, 70000]) {
    assert.throws(
      () => trainTokenizer('abc', { kind: 'bpe', vocabSize: v }),
      (e: unknown) => isUserError(e) && /vocab size/.test((e as Error).message),
      String(v),
    );
  }
  assert.throws(() => trainTokenizer('abc', { kind: 'char', vocabSize: 500 }), isUserError);
  assert.equal(defaultBpeVocabSize(10_000), 512);
  assert.equal(defaultBpeVocabSize(1_115_394), 4096);
  assert.equal(defaultBpeVocabSize(300_000), 1024);
});

/**
 * A KoGPT2-style tokenizer.json (not GPT-2's): BPE over characters with Metaspace ("▁" for spaces),
 * byte-fallback pieces <0x00>…<0xFF> for characters outside the vocabulary, and </s>.
 */
function metaspaceTokenizerJson(text: string): string {
  const vocab: Record<string, number> = {};
  const add = (t: string) => (vocab[t] ??= Object.keys(vocab).length);
  add('<unk>');
  add('</s>');
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  add('▁');
  const counts = new Map<string, number>();
  for (const c of text.replace(/ /g, '▁')) counts.set(c, (counts.get(c) ?? 0) + 1);
  const chars = [...counts.keys()].filter((c) => c !== '▁' && c !== '\n').sort();
  // Leave a few characters out so the byte fallback is exercised.
  for (const c of chars.slice(0, chars.length - 5)) add(c);
  const merges: string[] = [];
  for (const c of [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([c]) => c)
    .filter((c) => c in vocab && c !== '▁')
    .slice(0, 40)) {
    merges.push(`▁ ${c}`);
    add(`▁${c}`);
  }
  const meta = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 1, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: meta,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  });
}

test('imported (KoGPT2-style Metaspace BPE with byte fallback): Korean round trip, pieces, streaming', () => {
  const sample = KOREAN.slice(0, 3000);
  const tok = Tokenizer.fromJSON(metaspaceTokenizerJson(sample));
  assert.equal(tok.kind, 'imported');
  for (const s of ['대한민국은 민주공화국이다.', sample.split('\n')[2], '헌법 제1조 ①', '가나다 👍 끝']) {
    const ids = tok.encode(s);
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
    const stream = decodeStream(tok);
    const chunks = ids.map((id) => stream.push(id));
    chunks.push(stream.flush());
    assert.equal(chunks.join('').trimStart(), s);
    for (const c of chunks) assert.ok(!c.includes('\uFFFD'), `chunk ${JSON.stringify(c)} splits a character`);
  }
  // A piece after a space keeps it (Metaspace drops the space of a sequence's first token only).
  const [word] = tok.encode('a 대한').slice(-2);
  assert.match(new TextDecoder().decode(tok.tokenBytes(word)), /^ ?대/);
  const [space, ...thumbs] = tok.encode('👍');
  assert.equal(tok.tokenText(space), '▁'.replace('▁', ' '));
  assert.equal(thumbs.length, 4, 'four byte-fallback pieces for an emoji outside the vocabulary');
  assert.ok(thumbs.every((id) => tok.isByteFallback(id)));
  assert.equal(tok.tokenText(thumbs[0]), '<0xF0>');
  assert.deepEqual(Array.from(tok.tokenBytes(thumbs[0])), [0xf0]);
  assert.deepEqual(tok.encode('</s>'), [1]);
  assert.deepEqual(Tokenizer.fromJSON(tok.toJSON()).encode(sample), tok.encode(sample));
});

test('imported: GPT-2 style byte-level BPE with a different pre-tokenizer loads as bpe and round-trips', () => {
  const good = JSON.parse(bpe.toJSON());
  const other = {
    ...good,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: '\\d' }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
  };
  const tok = Tokenizer.fromJSON(JSON.stringify(other));
  assert.equal(tok.kind, 'bpe');
  for (const s of TRICKY) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  assert.ok(tok.encode('12345').length >= 5, 'digits split one by one');
});

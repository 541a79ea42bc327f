import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { ENGLISH, KOREAN } from './helpers';

const TEXT = readFileSync(KOREAN, 'utf8').slice(0, 8_000) + readFileSync(ENGLISH, 'utf8').slice(0, 8_000);
const EDGES =
  "  lead\t and  trail  \r\n\r\n it's  'll <|endoftext|> <|endoftext|>x y<|endoftext|>  👩‍👩‍👧 🇰🇷 e\u0301 \u00a0nbsp\u3000ideo 12 345 ①② next\u0085 \u0085 line\u0085 \n bom\ufeff \ufeff ";
const SAMPLE = '\ufeff' + EDGES + TEXT + EDGES + 'a\u0085  b '.repeat(5) + '대한민국'.repeat(300);
const BYTES = new TextEncoder().encode(SAMPLE);

const bpe = trainTokenizer(TEXT, { kind: 'bpe', vocabSize: 700 });
const char = trainTokenizer(TEXT, { kind: 'char' });
// Seen across cuts: a normalizer makes the tokenizer one the stream must keep whole until the end.
const withNormalizer = Tokenizer.fromJSON(JSON.stringify({ ...JSON.parse(bpe.toJSON()), normalizer: { type: 'NFC' } }));

function streamed(tok: Tokenizer, chunks: (Uint8Array | string)[]): Int32Array {
  const stream = tok.streamEncoder();
  const parts = [...chunks.map((c) => stream.push(c)), stream.end()];
  const all = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  return all;
}

function chunksOf(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length];
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

test('streamed encoding gives the ids of the whole text, whatever the chunk edges cut', () => {
  for (const [name, tok] of Object.entries({ bpe, char, 'bpe with a normalizer': withNormalizer })) {
    const whole = Int32Array.from(tok.encode(SAMPLE));
    for (const sizes of [[1], [2, 3], [7], [100, 1, 33], [4096], [BYTES.length]])
      assert.deepEqual(streamed(tok, chunksOf(BYTES, sizes)), whole, `${name}, byte chunks of ${sizes}`);
    const text = [SAMPLE.slice(0, 1001), SAMPLE.slice(1001, 1002), SAMPLE.slice(1002)];
    assert.deepEqual(streamed(tok, text), whole, `${name}, text chunks`);
  }
});

test('a chunk edge in the middle of a character or of a word: both halves wait for the next chunk', () => {
  const bytes = new TextEncoder().encode('먼저 대한민국 끝');
  const stream = bpe.streamEncoder();
  // "먼저 대" and the first byte of "한": nothing after the last cut (" 대…") is encoded yet.
  const first = stream.push(bytes.subarray(0, 11));
  assert.deepEqual(Array.from(first), bpe.encode('먼저'));
  const second = stream.push(bytes.subarray(11));
  assert.deepEqual(Array.from(second), bpe.encode(' 대한민국'));
  assert.deepEqual(Array.from(stream.end()), bpe.encode(' 끝'));
  assert.deepEqual(Array.from(bpe.streamEncoder().end()), []);
});

test('an unfinished character at the very end becomes U+FFFD, as decoding the file whole does', () => {
  const bytes = new TextEncoder().encode('abc 대');
  const cut = bytes.subarray(0, bytes.length - 1);
  assert.deepEqual(streamed(bpe, [cut]), Int32Array.from(bpe.encode(new TextDecoder().decode(cut))));
});

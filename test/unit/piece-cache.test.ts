import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdBuffer } from '../../src/core/tokenizer/id-buffer';
import { PieceCache, pieceHash } from '../../src/core/tokenizer/piece-cache';

const lookup = (cache: PieceCache, text: string, start: number, end: number) => {
  const out = new IdBuffer();
  return cache.copyTo(text, start, end, pieceHash(text, start, end), out) ? Array.from(out.take()) : undefined;
};

test('the piece cache gives back the ids stored for the same units, wherever the piece sits in a text', () => {
  const cache = new PieceCache(64, 1000, 1000);
  const text = ' the cat 대한 the 👍 cat';
  cache.set(text, 0, 4, pieceHash(text, 0, 4), Int32Array.of(7, 8));
  cache.set(text, 8, 11, pieceHash(text, 8, 11), Int32Array.of(9));
  assert.deepEqual(lookup(cache, text, 11, 15), [7, 8], '" the" again, later in the text');
  assert.deepEqual(lookup(cache, ' 대한', 0, 3), [9]);
  assert.equal(lookup(cache, text, 4, 8), undefined, '" cat" was never stored');
  assert.equal(lookup(cache, ' th', 0, 3), undefined, 'a prefix is another piece');
});

test('a full cache (slots, units or ids) starts afresh and never gives another piece’s ids', () => {
  for (const [slots, units, ids] of [
    [8, 1000, 1000],
    [1024, 20, 1000],
    [1024, 1000, 5],
  ]) {
    const cache = new PieceCache(slots, units, ids);
    const words = Array.from({ length: 200 }, (_, i) => ` w${i}`);
    words.forEach((w, i) => cache.set(w, 0, w.length, pieceHash(w, 0, w.length), Int32Array.of(i, i)));
    let found = 0;
    words.forEach((w, i) => {
      const got = lookup(cache, w, 0, w.length);
      if (got) assert.deepEqual(got, [i, i], w);
      found += got ? 1 : 0;
    });
    assert.ok(found > 0 && found < words.length, `${found} of ${words.length} kept with ${slots}/${units}/${ids}`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipBitsPerByte } from '../../src/core/baselines';
import { GZIP_BASELINE_MIN_BYTES, shownGzipBitsPerByte } from '../../src/core/gzip-baseline';
import { describeBaselines } from '../../src/cli/progress';
import type { Baselines } from '../../src/core/metric-row';
import { ENGLISH } from './helpers';

/** Baselines as a run records them: gzip -9 at `gzip` bits/byte on `bytes` held-out bytes, 3 bytes a token. */
function baselines(bytes: number, gzip: number): Baselines {
  return {
    uniform_loss: Math.log(2000),
    unigram_bits_per_char: 4,
    gzip_bits_per_byte: gzip,
    val_tokens: bytes / 3,
    val_chars: bytes,
    val_bytes: bytes,
  };
}

test('gzip is still learning a short text: its rate on the first 1,155 bytes is far above its rate once its 32 KiB window is full', () => {
  const text = readFileSync(ENGLISH);
  const short = gzipBitsPerByte(text.subarray(0, 1155));
  const window = gzipBitsPerByte(text.subarray(0, GZIP_BASELINE_MIN_BYTES));
  const whole = gzipBitsPerByte(text);
  assert.ok(short > 1.2 * window, `${short} against ${window}`);
  // Past the window the rate levels off: what gzip does on this kind of text.
  assert.ok(window < 1.1 * whole, `${window} against ${whole}`);
});

test('the gzip baseline is shown only on a held-out text of at least 32 KiB: the CLI says why (the chart: e2e insight)', () => {
  // The walk's fine-tune: 1,155 held-out bytes, gzip at 11.4 nats/token against ln 2000 = 7.6 guessing evenly.
  const small = baselines(1155, 4.4);
  assert.equal(shownGzipBitsPerByte(small, small.val_bytes), undefined);
  assert.match(describeBaselines(small), /gzip -9 left out \(the held-out text is under 32 KiB/);
  assert.doesNotMatch(describeBaselines(small), /bits\/byte by gzip/);

  const large = baselines(GZIP_BASELINE_MIN_BYTES, 3.3);
  assert.equal(shownGzipBitsPerByte(large, large.val_bytes), 3.3);
  assert.match(describeBaselines(large), /3\.300 bits\/byte by gzip -9/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16 } from '../../src/core/half-float';
import { encodeSafetensors, readSafetensors, readSafetensorsHeader } from '../../src/core/safetensors';
import { tempDir } from './helpers';

const everyPattern = () => Uint16Array.from({ length: 65536 }, (_, i) => i);
const isNaNBits = (bits: number, exponentMask: number, fractionMask: number) =>
  (bits & exponentMask) === exponentMask && (bits & fractionMask) !== 0;

test('every BF16 and F16 value survives float32 and back bit for bit (NaN stays NaN)', () => {
  for (const [widen, narrow, exponent, fraction] of [
    [bf16ToFloat32, float32ToBf16, 0x7f80, 0x7f],
    [f16ToFloat32, float32ToF16, 0x7c00, 0x3ff],
  ] as const) {
    const bits = everyPattern();
    const back = narrow(widen(bits));
    for (let i = 0; i < bits.length; i++) {
      if (isNaNBits(i, exponent, fraction)) assert.ok(isNaNBits(back[i], exponent, fraction), `NaN ${i.toString(16)}`);
      else assert.equal(back[i], i, `${narrow.name} ${i.toString(16)}`);
    }
  }
});

test('narrowing rounds to nearest, ties to even, as torch does; past the range gives ±Infinity, below it ±0 or a subnormal', () => {
  // 1 + 2⁻⁸ is halfway between BF16's 1 and 1 + 2⁻⁷: even is 1; 1 + 3·2⁻⁸ is halfway up to the even 1 + 2⁻⁶.
  const bf = float32ToBf16(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -(1 + 2 ** -8), 3.5e38, -3.5e38));
  assert.deepEqual([...bf], [0x3f80, 0x3f82, 0x3f81, 0xbf80, 0x7f80, 0xff80]);
  const h = float32ToF16(
    Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 2 ** -24, 2 ** -25, 2 ** -25 * 1.5, 2 ** -14 - 2 ** -25, 0.1, -2),
  );
  // 65520 is halfway from 65504 to 2¹⁶ (not representable): rounds up to Infinity; 2⁻²⁵ ties to 0; 0.1 is 0x2e66 as in numpy.
  assert.deepEqual([...h], [0x3c00, 0x3c02, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0001, 0x0400, 0x2e66, 0xc000]);
});

test('safetensors written in BF16 and F16 read back as the rounded values, with those dtypes in the header', () => {
  const dir = tempDir();
  try {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
    const path = join(dir, 'w.safetensors');
    const tensors = new Map([
      ['a', { shape: [10, 100], data: values }],
      ['b', { shape: [1000], data: values }],
      ['c', { shape: [1000], data: values }],
    ]);
    writeFileSync(
      path,
      encodeSafetensors(
        tensors,
        { format: 'pt' },
        new Map(),
        new Map([
          ['a', 'BF16'],
          ['b', 'F16'],
        ] as const),
      ),
    );
    const header = readSafetensorsHeader(path);
    assert.deepEqual(
      ['a', 'b', 'c'].map((n) => header.get(n)!.dtype),
      ['BF16', 'F16', 'F32'],
    );
    const read = readSafetensors(path, { dtypes: ['F32', 'BF16', 'F16'] }).tensors;
    assert.deepEqual(read.get('a')!.data, bf16ToFloat32(float32ToBf16(values)));
    assert.deepEqual(read.get('b')!.data, f16ToFloat32(float32ToF16(values)));
    assert.deepEqual(read.get('c')!.data, values);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// IEEE half (F16) and bfloat16 (BF16) values widened to float32, exactly (both fit in float32).

let f16Table: Float32Array | undefined;

/** float32 of every F16 bit pattern (256 KB, built once): subnormals, ±Infinity and NaN included. */
function f16Values(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * fraction * 2 ** -24;
    else if (exponent === 31) table[bits] = fraction ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return (f16Table = table);
}

export function f16ToFloat32(bits: Uint16Array): Float32Array {
  const table = f16Values();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** A bfloat16 is the top half of a float32's bits. */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** float32 values narrowed to bfloat16 bit patterns, rounding to nearest even (as torch's .to(torch.bfloat16)); NaN stays NaN. */
export function float32ToBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >>> 16) | 0x40;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 values narrowed to IEEE half bit patterns, rounding to nearest even (subnormals, overflow to ±Infinity); NaN stays NaN. */
export function float32ToF16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16Bits(bits[i]);
  return out;
}

function f16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exponent = (b >>> 23) & 0xff;
  const mantissa = b & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  // A normal half keeps 10 of the 23 mantissa bits; a subnormal one (e ≤ 0) fewer, the implicit 1 shifted in.
  const [m, shift] = e > 0 ? [mantissa, 13] : [mantissa | 0x800000, 14 - e];
  if (shift > 24) return sign;
  const rest = m % 2 ** shift;
  const half = 2 ** (shift - 1);
  let h = (e > 0 ? e << 10 : 0) | Math.floor(m / 2 ** shift);
  if (rest > half || (rest === half && h & 1)) h++; // a carry into the exponent is the right result, up to Infinity
  return sign | h;
}

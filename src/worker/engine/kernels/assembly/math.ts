// exp for f32x4 lanes. AssemblyScript's Mathf.exp is scalar and reads a table from the
// module's data segment, which a module sharing the wasm backend's memory must not have; this is
// Cephes' expf (range reduction by ln 2, degree-6 polynomial; ≤ 2 ulp), tested against Math.exp.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_MAX: f32 = 88.3762626647949;
const EXP_MIN: f32 = -87.3365447505531;
const ROUNDER: f32 = 12582912; // 1.5·2²³
const ROUNDER_BITS: i32 = 0x4b400000;

@inline function splat(x: f32): v128 {
  return f32x4.splat(x);
}

/** e^x for each lane; inputs are clamped to the finite normal range (no inf, no denormals). */
@inline export function expv(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, splat(EXP_MIN)), splat(EXP_MAX));
  // Round x·log2(e) to the nearest integer n by adding 1.5·2²³: n lands in the low mantissa bits.
  const shifted = f32x4.add(f32x4.mul(x, splat(LOG2E)), splat(ROUNDER));
  const n = f32x4.sub(shifted, splat(ROUNDER));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, splat(LN2_HI))), f32x4.mul(n, splat(LN2_LO)));
  let p = splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), splat(1));
  // 2ⁿ: n + 127 in the exponent field; the rounder's bits cancel in the subtraction.
  const pow2 = i32x4.shl(i32x4.sub(shifted, i32x4.splat(ROUNDER_BITS - 127)), 23);
  return f32x4.mul(y, pow2);
}

/** e^x for one float: lane 0 of expv, so scalar tails round exactly as vector bodies do. */
@inline export function exps(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

/** Exported for the test that compares it with Math.exp. */
export function expArray(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + (<usize>i << 2), exps(load<f32>(x + (<usize>i << 2))));
}


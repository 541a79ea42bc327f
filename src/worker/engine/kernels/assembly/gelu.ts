// GELU (tanh approximation, GPT-2's "gelu_new") and its derivative in one SIMD pass each,
// replacing ~25 elementwise tfjs ops per MLP whose Tanh alone runs at ~12 ns an element on wasm.
// With u = √(2/π)(v + 0.044715v³) and s = σ(2u): ½v(1 + tanh u) = v·s, and 1 − tanh²u = 4s(1 − s).
import { expv } from './math';

const C: f32 = 0.7978845608028654; // √(2/π)
const A: f32 = 0.044715;

/** σ(2u) for u = √(2/π)(v + Av³). */
@inline function sigmoidOfTwoU(v: v128, vv: v128): v128 {
  const u = f32x4.mul(f32x4.splat(C), f32x4.add(v, f32x4.mul(f32x4.splat(A), f32x4.mul(vv, v))));
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, expv(f32x4.mul(u, f32x4.splat(-2)))));
}

@inline function geluv(v: v128): v128 {
  return f32x4.mul(v, sigmoidOfTwoU(v, f32x4.mul(v, v)));
}

@inline function slopev(v: v128): v128 {
  const vv = f32x4.mul(v, v);
  const s = sigmoidOfTwoU(v, vv);
  const one = f32x4.splat(1);
  // s + 2v·s(1 − s)·C·(1 + 3Av²)
  const ds = f32x4.mul(f32x4.mul(s, f32x4.sub(one, s)), f32x4.mul(f32x4.splat(2 * C), f32x4.add(one, f32x4.mul(f32x4.splat(3 * A), vv))));
  return f32x4.add(s, f32x4.mul(v, ds));
}

export function geluForward(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), geluv(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), f32x4.extract_lane(geluv(f32x4.splat(load<f32>(x + (<usize>i << 2)))), 0));
}

export function geluBackward(x: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), slopev(v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dy + o) * f32x4.extract_lane(slopev(f32x4.splat(load<f32>(x + o))), 0));
  }
}

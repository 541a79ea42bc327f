// One AdamW update of one parameter tensor, into new buffers, with the gradient-clipping scale folded in:
// ~12 tfjs ops per parameter (and ~600 per step) become one SIMD pass. Same arithmetic, same
// order, as the tfjs-op AdamW in adamw.ts (vector sqrt and division round as scalar ones do).
// Not in place: the wasm backend caches XNNPACK's packed copy of a matmul's weights per tensor,
// so weights must change by becoming a new tensor.

// The constants arrive rounded to f32 from their f64 values (1 − β too), as tfjs's scalars are.
export function adamwUpdate(p: usize, g: usize, m: usize, v: usize, pOut: usize, mOut: usize, vOut: usize, n: i32, lr: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, c1: f32, c2: f32, eps: f32, keep: f32, gradScale: f32): void {
  const vScale = f32x4.splat(gradScale);
  const vB1 = f32x4.splat(beta1);
  const vOmB1 = f32x4.splat(oneMinusBeta1);
  const vB2 = f32x4.splat(beta2);
  const vOmB2 = f32x4.splat(oneMinusBeta2);
  const vC1 = f32x4.splat(c1);
  const vC2 = f32x4.splat(c2);
  const vEps = f32x4.splat(eps);
  const vKeep = f32x4.splat(keep);
  const vLr = f32x4.splat(lr);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const gi = f32x4.mul(v128.load(g + o), vScale);
    const mi = f32x4.add(f32x4.mul(v128.load(m + o), vB1), f32x4.mul(gi, vOmB1));
    const vi = f32x4.add(f32x4.mul(v128.load(v + o), vB2), f32x4.mul(f32x4.mul(gi, gi), vOmB2));
    v128.store(mOut + o, mi);
    v128.store(vOut + o, vi);
    const update = f32x4.div(f32x4.div(mi, vC1), f32x4.add(f32x4.sqrt(f32x4.div(vi, vC2)), vEps));
    v128.store(pOut + o, f32x4.sub(f32x4.mul(v128.load(p + o), vKeep), f32x4.mul(update, vLr)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o) * gradScale;
    const mi = load<f32>(m + o) * beta1 + gi * oneMinusBeta1;
    const vi = load<f32>(v + o) * beta2 + gi * gi * oneMinusBeta2;
    store<f32>(mOut + o, mi);
    store<f32>(vOut + o, vi);
    const update = mi / c1 / (Mathf.sqrt(vi / c2) + eps);
    store<f32>(pOut + o, load<f32>(p + o) * keep - update * lr);
  }
}

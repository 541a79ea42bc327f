// One AdamW update of one parameter tensor, in place, with the gradient-clipping scale folded in:
// ~12 tfjs ops per parameter (and ~600 per step) become one pass. Same arithmetic, same order, as
// the tfjs-op AdamW in adamw.ts.

// The constants arrive rounded to f32 from their f64 values (1 − β too), as tfjs's scalars are.
export function adamwUpdate(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, c1: f32, c2: f32, eps: f32, keep: f32, gradScale: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o) * gradScale;
    const mi = load<f32>(m + o) * beta1 + gi * oneMinusBeta1;
    const vi = load<f32>(v + o) * beta2 + gi * gi * oneMinusBeta2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const update = mi / c1 / (Mathf.sqrt(vi / c2) + eps);
    store<f32>(p + o, load<f32>(p + o) * keep - update * lr);
  }
}

// Causal multi-head self-attention, forward and backward, for one batch of sequences, in
// WebAssembly SIMD. tfjs's wasm backend runs batched [heads, T, T] products in a scalar loop at
// ~2 GFLOP/s (docs/tfjs-notes.md); no library offers a fused attention kernel for it.
//
// Layouts (f32, row-major; pointers are byte offsets into this module's memory):
//   qkv   [B·T, 3C]  the c_attn projection: q | k | v, head h at columns h·D … h·D+D-1 of each third
//   out   [B·T, C]   attention output with heads merged (the input of c_proj)
//   probs [B, H, T, T] softmax probabilities, kept for the backward pass (zero above the diagonal)
//   scratch: 4·T·D + 2·T floats
import { expv } from './math';

@inline function vload(p: usize): v128 {
  return v128.load(p);
}

@inline function vstore(p: usize, v: v128): void {
  v128.store(p, v);
}

/** dst[T, D] ← the D columns starting at `col` of rows b·T … b·T+T-1 of a [B·T, stride] matrix. */
function gather(src: usize, dst: usize, b: i32, T: i32, D: i32, stride: i32, col: i32): void {
  for (let t = 0; t < T; t++) {
    const from = src + ((<usize>(b * T + t) * stride + col) << 2);
    const to = dst + (<usize>(t * D) << 2);
    for (let d = 0; d < D; d += 4) vstore(to + (d << 2), vload(from + (d << 2)));
  }
}

/** dst[D, T] ← the transpose of the same block. */
function gatherTransposed(src: usize, dst: usize, b: i32, T: i32, D: i32, stride: i32, col: i32): void {
  for (let t = 0; t < T; t++) {
    const from = src + ((<usize>(b * T + t) * stride + col) << 2);
    for (let d = 0; d < D; d++) store<f32>(dst + (<usize>(d * T + t) << 2), load<f32>(from + (d << 2)));
  }
}

/** Rows b·T … of a [B·T, stride] matrix, D columns at `col` ← src[T, D]. */
function scatter(src: usize, dst: usize, b: i32, T: i32, D: i32, stride: i32, col: i32): void {
  for (let t = 0; t < T; t++) {
    const to = dst + ((<usize>(b * T + t) * stride + col) << 2);
    const from = src + (<usize>(t * D) << 2);
    for (let d = 0; d < D; d += 4) vstore(to + (d << 2), vload(from + (d << 2)));
  }
}

/** Number of floats from 0 to `i` inclusive, rounded up to whole vectors (T is a multiple of 4). */
@inline function span(i: i32): i32 {
  return (i + 4) & ~3;
}

export function attentionForward(qkv: usize, out: usize, probs: usize, B: i32, T: i32, H: i32, D: i32, scratch: usize): void {
  const C = H * D;
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const q = scratch;
  const kT = q + (<usize>(T * D) << 2);
  const v = kT + (<usize>(T * D) << 2);
  const o = v + (<usize>(T * D) << 2);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      gather(qkv, q, b, T, D, 3 * C, h * D);
      gatherTransposed(qkv, kT, b, T, D, 3 * C, C + h * D);
      gather(qkv, v, b, T, D, 3 * C, 2 * C + h * D);
      const P = probs + (<usize>((b * H + h) * T * T) << 2);
      for (let i = 0; i < T; i++) {
        const row = P + (<usize>(i * T) << 2);
        const n = span(i);
        for (let j = 0; j < T; j += 4) vstore(row + (j << 2), f32x4.splat(0));
        // scores[j] = q_i · k_j, vectorised over j
        for (let d = 0; d < D; d++) {
          const qd = f32x4.splat(load<f32>(q + (<usize>(i * D + d) << 2)));
          const krow = kT + (<usize>(d * T) << 2);
          for (let j = 0; j < n; j += 4) vstore(row + (j << 2), f32x4.add(vload(row + (j << 2)), f32x4.mul(qd, vload(krow + (j << 2)))));
        }
        let max: f32 = -Infinity;
        for (let j = 0; j <= i; j++) max = Mathf.max(max, load<f32>(row + (j << 2)) * scale);
        const vmax = f32x4.splat(max);
        const vscale = f32x4.splat(scale);
        for (let j = 0; j < n; j += 4) vstore(row + (j << 2), expv(f32x4.sub(f32x4.mul(vload(row + (j << 2)), vscale), vmax)));
        for (let j = i + 1; j < n; j++) store<f32>(row + (j << 2), 0);
        let acc = f32x4.splat(0);
        for (let j = 0; j < n; j += 4) acc = f32x4.add(acc, vload(row + (j << 2)));
        const inv = f32x4.splat(<f32>1 / (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3)));
        for (let j = 0; j < n; j += 4) vstore(row + (j << 2), f32x4.mul(vload(row + (j << 2)), inv));
        // o_i = Σ_j p_ij v_j, vectorised over d
        const oi = o + (<usize>(i * D) << 2);
        for (let d = 0; d < D; d += 4) vstore(oi + (d << 2), f32x4.splat(0));
        for (let j = 0; j <= i; j++) {
          const p = f32x4.splat(load<f32>(row + (j << 2)));
          const vj = v + (<usize>(j * D) << 2);
          for (let d = 0; d < D; d += 4) vstore(oi + (d << 2), f32x4.add(vload(oi + (d << 2)), f32x4.mul(p, vload(vj + (d << 2)))));
        }
      }
      scatter(o, out, b, T, D, C, h * D);
    }
  }
}

export function attentionBackward(qkv: usize, probs: usize, dOut: usize, dQkv: usize, B: i32, T: i32, H: i32, D: i32, scratch: usize): void {
  const C = H * D;
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const TD = <usize>(T * D) << 2;
  const q = scratch;
  const k = q + TD;
  const vT = k + TD;
  const dO = vT + TD;
  const dQ = dO + TD;
  const dK = dQ + TD;
  const dV = dK + TD;
  const dS = dV + TD;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      gather(qkv, q, b, T, D, 3 * C, h * D);
      gather(qkv, k, b, T, D, 3 * C, C + h * D);
      gatherTransposed(qkv, vT, b, T, D, 3 * C, 2 * C + h * D);
      gather(dOut, dO, b, T, D, C, h * D);
      for (let x = 0; x < 3 * T * D; x += 4) vstore(dQ + (x << 2), f32x4.splat(0));
      const P = probs + (<usize>((b * H + h) * T * T) << 2);
      for (let i = 0; i < T; i++) {
        const prow = P + (<usize>(i * T) << 2);
        const n = span(i);
        const doi = dO + (<usize>(i * D) << 2);
        // dP_ij = dO_i · v_j, vectorised over j
        for (let j = 0; j < n; j += 4) vstore(dS + (j << 2), f32x4.splat(0));
        for (let d = 0; d < D; d++) {
          const g = f32x4.splat(load<f32>(doi + (d << 2)));
          const vrow = vT + (<usize>(d * T) << 2);
          for (let j = 0; j < n; j += 4) vstore(dS + (j << 2), f32x4.add(vload(dS + (j << 2)), f32x4.mul(g, vload(vrow + (j << 2)))));
        }
        // dS_ij = p_ij (dP_ij − Σ_k p_ik dP_ik) · scale   (p is zero past the diagonal)
        let dot: f32 = 0;
        for (let j = 0; j <= i; j++) dot += load<f32>(prow + (j << 2)) * load<f32>(dS + (j << 2));
        for (let j = 0; j <= i; j++) store<f32>(dS + (j << 2), load<f32>(prow + (j << 2)) * (load<f32>(dS + (j << 2)) - dot) * scale);
        const qi = q + (<usize>(i * D) << 2);
        const dqi = dQ + (<usize>(i * D) << 2);
        for (let j = 0; j <= i; j++) {
          const s = f32x4.splat(load<f32>(dS + (j << 2)));
          const p = f32x4.splat(load<f32>(prow + (j << 2)));
          const kj = k + (<usize>(j * D) << 2);
          const dkj = dK + (<usize>(j * D) << 2);
          const dvj = dV + (<usize>(j * D) << 2);
          for (let d = 0; d < D; d += 4) {
            const o = d << 2;
            vstore(dqi + o, f32x4.add(vload(dqi + o), f32x4.mul(s, vload(kj + o))));
            vstore(dkj + o, f32x4.add(vload(dkj + o), f32x4.mul(s, vload(qi + o))));
            vstore(dvj + o, f32x4.add(vload(dvj + o), f32x4.mul(p, vload(doi + o))));
          }
        }
      }
      scatter(dQ, dQkv, b, T, D, 3 * C, h * D);
      scatter(dK, dQkv, b, T, D, 3 * C, C + h * D);
      scatter(dV, dQkv, b, T, D, 3 * C, 2 * C + h * D);
    }
  }
}

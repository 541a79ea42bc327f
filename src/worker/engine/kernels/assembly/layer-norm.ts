// Layer norm over the last axis, forward and backward in one SIMD pass each: ~30 tfjs ops per
// norm (moments, broadcasts, their gradients and the reductions for γ and β) become two calls.

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

export function layerNormForward(x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize, rows: i32, cols: i32, eps: f32): void {
  const body = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>(r * cols) << 2);
    const out = y + (<usize>(r * cols) << 2);
    let acc = f32x4.splat(0);
    for (let j = 0; j < body; j += 4) acc = f32x4.add(acc, v128.load(row + (j << 2)));
    let sum = hsum(acc);
    for (let j = body; j < cols; j++) sum += load<f32>(row + (j << 2));
    const mu = sum / <f32>cols;
    const vmu = f32x4.splat(mu);
    acc = f32x4.splat(0);
    for (let j = 0; j < body; j += 4) {
      const d = f32x4.sub(v128.load(row + (j << 2)), vmu);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let sq = hsum(acc);
    for (let j = body; j < cols; j++) {
      const d = load<f32>(row + (j << 2)) - mu;
      sq += d * d;
    }
    const rs = <f32>1 / Mathf.sqrt(sq / <f32>cols + eps);
    store<f32>(mean + (<usize>r << 2), mu);
    store<f32>(rstd + (<usize>r << 2), rs);
    const vrs = f32x4.splat(rs);
    for (let j = 0; j < body; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, f32x4.add(f32x4.mul(f32x4.mul(f32x4.sub(v128.load(row + o), vmu), vrs), v128.load(w + o)), v128.load(b + o)));
    }
    for (let j = body; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(out + o, (load<f32>(row + o) - mu) * rs * load<f32>(w + o) + load<f32>(b + o));
    }
  }
}

export function layerNormBackward(x: usize, w: usize, mean: usize, rstd: usize, dy: usize, dx: usize, dw: usize, db: usize, rows: i32, cols: i32): void {
  const body = cols & ~3;
  for (let j = 0; j < cols; j++) {
    store<f32>(dw + (<usize>j << 2), 0);
    store<f32>(db + (<usize>j << 2), 0);
  }
  const n = <f32>cols;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * cols) << 2);
    const gr = dy + (<usize>(r * cols) << 2);
    const outr = dx + (<usize>(r * cols) << 2);
    const mu = load<f32>(mean + (<usize>r << 2));
    const rs = load<f32>(rstd + (<usize>r << 2));
    const vmu = f32x4.splat(mu);
    const vrs = f32x4.splat(rs);
    let accG = f32x4.splat(0);
    let accGX = f32x4.splat(0);
    for (let j = 0; j < body; j += 4) {
      const o = <usize>j << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), vmu), vrs);
      const g = v128.load(gr + o);
      const gw = f32x4.mul(g, v128.load(w + o));
      accG = f32x4.add(accG, gw);
      accGX = f32x4.add(accGX, f32x4.mul(gw, xhat));
      v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(g, xhat)));
      v128.store(db + o, f32x4.add(v128.load(db + o), g));
    }
    let sumG = hsum(accG);
    let sumGX = hsum(accGX);
    for (let j = body; j < cols; j++) {
      const o = <usize>j << 2;
      const xhat = (load<f32>(xr + o) - mu) * rs;
      const g = load<f32>(gr + o);
      const gw = g * load<f32>(w + o);
      sumG += gw;
      sumGX += gw * xhat;
      store<f32>(dw + o, load<f32>(dw + o) + g * xhat);
      store<f32>(db + o, load<f32>(db + o) + g);
    }
    const a = sumG / n;
    const c = sumGX / n;
    const va = f32x4.splat(a);
    const vc = f32x4.splat(c);
    for (let j = 0; j < body; j += 4) {
      const o = <usize>j << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), vmu), vrs);
      v128.store(outr + o, f32x4.mul(vrs, f32x4.sub(f32x4.sub(f32x4.mul(v128.load(gr + o), v128.load(w + o)), va), f32x4.mul(xhat, vc))));
    }
    for (let j = body; j < cols; j++) {
      const o = <usize>j << 2;
      const xhat = (load<f32>(xr + o) - mu) * rs;
      store<f32>(outr + o, rs * (load<f32>(gr + o) * load<f32>(w + o) - a - xhat * c));
    }
  }
}

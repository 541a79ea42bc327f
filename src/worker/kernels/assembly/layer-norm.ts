// Layer norm over the last axis, forward and backward in one pass each: ~30 tfjs ops per norm
// (moments, broadcasts, their gradients and the reductions for γ and β) become two calls.

export function layerNormForward(x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize, rows: i32, cols: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>(r * cols) << 2);
    const out = y + (<usize>(r * cols) << 2);
    let sum: f32 = 0;
    for (let j = 0; j < cols; j++) sum += load<f32>(row + (j << 2));
    const mu = sum / <f32>cols;
    let sq: f32 = 0;
    for (let j = 0; j < cols; j++) {
      const d = load<f32>(row + (j << 2)) - mu;
      sq += d * d;
    }
    const rs = <f32>1 / Mathf.sqrt(sq / <f32>cols + eps);
    store<f32>(mean + (<usize>r << 2), mu);
    store<f32>(rstd + (<usize>r << 2), rs);
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(out + o, (load<f32>(row + o) - mu) * rs * load<f32>(w + o) + load<f32>(b + o));
    }
  }
}

export function layerNormBackward(x: usize, w: usize, mean: usize, rstd: usize, dy: usize, dx: usize, dw: usize, db: usize, rows: i32, cols: i32): void {
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
    let sumG: f32 = 0;
    let sumGX: f32 = 0;
    for (let j = 0; j < cols; j++) {
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
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      const xhat = (load<f32>(xr + o) - mu) * rs;
      store<f32>(outr + o, rs * (load<f32>(gr + o) * load<f32>(w + o) - a - xhat * c));
    }
  }
}

// Column sums (a linear layer's bias gradient) and 2-D transposes. The wasm backend reduces over
// axis 0 by transposing first and transposes through a generic N-d index loop (~3.7 ns an
// element); both are memory-bound passes here.

/** out[j] = Σ_r x[r, j] for x [rows, cols]. */
export function columnSums(x: usize, out: usize, rows: i32, cols: i32): void {
  const body = cols & ~3;
  for (let j = 0; j < body; j += 4) v128.store(out + (j << 2), f32x4.splat(0));
  for (let j = body; j < cols; j++) store<f32>(out + (j << 2), 0);
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>(r * cols) << 2);
    for (let j = 0; j < body; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(row + o)));
    }
    for (let j = body; j < cols; j++) store<f32>(out + (j << 2), load<f32>(out + (j << 2)) + load<f32>(row + (j << 2)));
  }
}

/** dst [cols, rows] ← src [rows, cols]ᵀ, in 4×4 blocks of vectors where the shape allows. */
export function transpose2d(src: usize, dst: usize, rows: i32, cols: i32): void {
  const rBody = rows & ~3;
  const cBody = cols & ~3;
  for (let r = 0; r < rBody; r += 4) {
    const s0 = src + (<usize>(r * cols) << 2);
    const s1 = s0 + (<usize>cols << 2);
    const s2 = s1 + (<usize>cols << 2);
    const s3 = s2 + (<usize>cols << 2);
    for (let c = 0; c < cBody; c += 4) {
      const o = <usize>c << 2;
      const a = v128.load(s0 + o);
      const b = v128.load(s1 + o);
      const e = v128.load(s2 + o);
      const f = v128.load(s3 + o);
      const ab01 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
      const ab23 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
      const ef01 = v128.shuffle<f32>(e, f, 0, 4, 1, 5);
      const ef23 = v128.shuffle<f32>(e, f, 2, 6, 3, 7);
      const d0 = dst + (<usize>(c * rows + r) << 2);
      const d1 = d0 + (<usize>rows << 2);
      const d2 = d1 + (<usize>rows << 2);
      const d3 = d2 + (<usize>rows << 2);
      v128.store(d0, v128.shuffle<f32>(ab01, ef01, 0, 1, 4, 5));
      v128.store(d1, v128.shuffle<f32>(ab01, ef01, 2, 3, 6, 7));
      v128.store(d2, v128.shuffle<f32>(ab23, ef23, 0, 1, 4, 5));
      v128.store(d3, v128.shuffle<f32>(ab23, ef23, 2, 3, 6, 7));
    }
    for (let c = cBody; c < cols; c++) {
      for (let k = 0; k < 4; k++) store<f32>(dst + (<usize>(c * rows + r + k) << 2), load<f32>(src + (<usize>((r + k) * cols + c) << 2)));
    }
  }
  for (let r = rBody; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<f32>(dst + (<usize>(c * rows + r) << 2), load<f32>(src + (<usize>(r * cols + c) << 2)));
  }
}

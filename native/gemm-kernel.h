// The single-threaded SGEMM and SGEMV, written once over GCC's vector extensions and compiled once
// per instruction set (gemm-avx512.cc, gemm-avx2.cc, gemm-generic.cc), each with its own flags.
// The includer defines GEMM_VECTOR_BYTES (the register width), GEMM_MR (rows of C per tile) and
// GEMM_NV (vectors per row of a tile), and includes this inside a namespace of its own. Everything
// here has internal linkage and uses no inline function of a library: a copy compiled with
// AVX-512 must never be the one the linker keeps for a caller that runs on a CPU without it.
// The includer includes gemm.h first.
//
// BLIS's layout: C is updated in MR × NR tiles whose sums stay in registers while k runs; op(B) is
// packed into NR-column panels, k-major, so a tile reads its vectors contiguously whatever the
// transpose and leading dimension; blocks of KC (k), MC (rows of A) and NC (columns of B) keep the
// panels in the caches. A tile's MR rows of A stay in L1 while it walks the B panel (in L2) across
// the block's columns. A is read in place (tinyBLAS's way: its values are broadcast one at a time,
// so any stride will do), except Aᵀ, packed into MR-row panels (one pointer, MR values a step) so a
// tile does not walk a column of A a cache line per step.
namespace {

constexpr int W = GEMM_VECTOR_BYTES / 4;
constexpr int MR = GEMM_MR, NV = GEMM_NV, NR = NV * W;
// KC·NC floats of B (1.2 MB at AVX-512's NR) fit a 2 MB L2; MR·KC of A (18 KB) fit L1 beside it.
constexpr int KC = 384, MC = MR * 32, NC = 768 / NR * NR;

typedef float Vec __attribute__((vector_size(GEMM_VECTOR_BYTES)));

inline int least(int a, int b) { return a < b ? a : b; }
inline Vec load(const float* p) {
  Vec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }
inline Vec splat(float x) { return x - Vec{}; }  // x − 0 is x for every x (x + 0 is not: −0), so no add is emitted
inline float lanes(Vec v) {
  float s = 0;
  for (int i = 0; i < W; i++) s += v[i];
  return s;
}

#if defined(__GNUC__) && !defined(__clang__)
typedef int Lanes __attribute__((vector_size(GEMM_VECTOR_BYTES)));
/** Transposes the W × W block in `rows` in place: log2 W rounds, each swapping the off-diagonal h × h blocks of every 2h × 2h block. */
inline void transposeSquare(Vec* rows) {
#pragma GCC unroll 8
  for (int h = W / 2; h >= 1; h /= 2) {
    Lanes low, high;
#pragma GCC unroll 16
    for (int l = 0; l < W; l++) {
      low[l] = l & h ? W + l - h : l;
      high[l] = l & h ? W + l : l + h;
    }
#pragma GCC unroll 16
    for (int i = 0; i < W; i++)
      if (!(i & h)) {
        const Vec top = rows[i], bottom = rows[i + h];
        rows[i] = __builtin_shuffle(top, bottom, low);
        rows[i + h] = __builtin_shuffle(top, bottom, high);
      }
  }
}
#else
inline void transposeSquare(Vec* rows) {
  float block[W][W];
  for (int j = 0; j < W; j++) store(block[j], rows[j]);
  for (int q = 0; q < W; q++)
    for (int j = 0; j < W; j++) rows[q][j] = block[j][q];
}
#endif

/** Aᵀ[i0 + i, p0 + p] (A [k, m]) for i < mc, p < kc into MR-row panels, rows past mc zero. */
void packTransposedA(const float* a, int lda, int i0, int mc, int p0, int kc, float* dst) {
  for (int ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const int rows = least(MR, mc - ir);
    const float* src = a + long(p0) * lda + i0 + ir;
    if (rows == MR)
      for (int p = 0; p < kc; p++) __builtin_memcpy(dst + p * MR, src + long(p) * lda, MR * sizeof(float));
    else
      for (int p = 0; p < kc; p++) {
        for (int i = 0; i < rows; i++) dst[p * MR + i] = src[long(p) * lda + i];
        for (int i = rows; i < MR; i++) dst[p * MR + i] = 0;
      }
  }
}

/** op(B)[p0 + p, j0 + j] for p < kc, j < nc into NR-column panels, columns past nc zero. */
void packB(bool tb, const float* b, int ldb, int p0, int kc, int j0, int nc, float* dst) {
  for (int jr = 0; jr < nc; jr += NR, dst += NR * kc) {
    const int cols = least(NR, nc - jr);
    if (tb) {
      // Bᵀ's rows are k-contiguous: transposed W × W blocks at a time, read and written a vector per row.
      const float* src = b + long(j0 + jr) * ldb + p0;
      int p = 0;
      if (cols == NR)
        for (; p + W <= kc; p += W)
#pragma GCC unroll 8
          for (int jb = 0; jb < NR; jb += W) {
            Vec rows[W];
#pragma GCC unroll 16
            for (int j = 0; j < W; j++) rows[j] = load(src + long(jb + j) * ldb + p);
            transposeSquare(rows);
#pragma GCC unroll 16
            for (int q = 0; q < W; q++) store(dst + (p + q) * NR + jb, rows[q]);
          }
      for (int j = 0; j < cols; j++)
        for (int q = p; q < kc; q++) dst[q * NR + j] = src[long(j) * ldb + q];
      for (int j = cols; j < NR; j++)
        for (int q = p; q < kc; q++) dst[q * NR + j] = 0;
    } else {
      for (int p = 0; p < kc; p++) {
        const float* src = b + long(p0 + p) * ldb + j0 + jr;
        float* out = dst + p * NR;
        if (cols == NR) {
          for (int v = 0; v < NV; v++) store(out + v * W, load(src + v * W));
        } else {
          for (int j = 0; j < cols; j++) out[j] = src[j];
          for (int j = cols; j < NR; j++) out[j] = 0;
        }
      }
    }
  }
}

/**
 * C[rows, cols] = alpha·(A · B panel) + beta·C, beta 0 never reading C (BLAS's rule: NaNs there are
 * dropped). A `packed` (Aᵀ): an MR-row panel, MR values a step, rows past `rows` zero; else read in
 * place, element (i, p) at a[i·lda + p], rows past `rows` repeating the last. A's values are
 * broadcast straight from memory.
 */
template <bool packed>
void tile(int kc, const float* a, long lda, const float* b, float alpha, float beta, float* c, long ldc, int rows, int cols) {
  {
    // The tile's C, needed at the end. From a copy the compiler cannot see through: else it keeps the
    // MR row addresses in registers across the loop below, spilling a vector of B to the stack.
    const float* row = c;
    __asm__("" : "+r"(row));
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++, row += ldc) {
      __builtin_prefetch(row, 1);
      __builtin_prefetch(row + NR - 1, 1);
    }
  }
  const float* rowA[MR];
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++) rowA[i] = a + (i < rows ? i : rows - 1) * lda;
  Vec acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) acc[i][v] = Vec{};
  for (int p = 0; p < kc; p++, b += NR) {
    __builtin_prefetch(b + 8 * NR);
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++) {
      const Vec ai = splat(packed ? a[p * MR + i] : rowA[i][p]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) acc[i][v] += ai * load(b + v * W);
    }
  }
  const Vec va = splat(alpha), vb = splat(beta);
  if (rows == MR && cols == NR) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        float* out = c + i * ldc + v * W;
        store(out, beta == 0.0f ? va * acc[i][v] : va * acc[i][v] + vb * load(out));
      }
    return;
  }
  float sums[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) store(&sums[i][v * W], acc[i][v]);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      float* out = c + i * ldc + j;
      *out = beta == 0.0f ? alpha * sums[i][j] : alpha * sums[i][j] + beta * *out;
    }
}

/**
 * Prefetches into L2 lines [from, from + count) of the `rows` rows of A after the MR at `a` (each kc
 * values, lda apart; `lines` lines each): the next tile row's A, a few lines after each tile of this
 * row, so the first tile that reads it does not wait on memory.
 */
void prefetchA(const float* a, long lda, int rows, int kc, int lines, int from, int count) {
  for (int line = from; line < from + count && line < rows * lines; line++)
    __builtin_prefetch(a + (MR + line / lines) * lda + least(16 * (line % lines), kc - 1), 0, 2);
}

void scale(int m, int n, float beta, float* c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) c[long(i) * ldc + j] = beta == 0.0f ? 0.0f : beta * c[long(i) * ldc + j];
}

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc,
           float* packedA, float* packedB) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale(m, n, beta, c, ldc);
    return;
  }
  // Blocks of equal size (n = 1,100 is two blocks of 576 columns, not 1,024 and 76).
  const int ncStep = ((n + (n + NC - 1) / NC - 1) / ((n + NC - 1) / NC) + NR - 1) / NR * NR;
  const int kcStep = (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
  for (int jc = 0; jc < n; jc += ncStep) {
    const int nc = least(ncStep, n - jc);
    for (int pc = 0; pc < k; pc += kcStep) {
      const int kc = least(kcStep, k - pc);
      const float betaHere = pc == 0 ? beta : 1.0f;
      packB(tb, b, ldb, pc, kc, jc, nc, packedB);
      for (int ic = 0; ic < m; ic += MC) {
        const int mc = least(MC, m - ic);
        if (ta) packTransposedA(a, lda, ic, mc, pc, kc, packedA);
        // A's lines (a line of 16 floats may straddle two) and how many to prefetch after each tile.
        const int lines = (kc + 15) / 16 + 1, perTile = (MR * lines + (nc + NR - 1) / NR - 1) / ((nc + NR - 1) / NR);
        for (int ir = 0; ir < mc; ir += MR)
          for (int jr = 0, fetched = 0; jr < nc; jr += NR, fetched += perTile) {
            const int rows = least(MR, mc - ir), cols = least(NR, nc - jr);
            float* out = c + long(ic + ir) * ldc + jc + jr;
            const float* panelB = packedB + long(jr) * kc;
            if (ta) {
              tile<true>(kc, packedA + long(ir) * kc, 0, panelB, alpha, betaHere, out, ldc, rows, cols);
            } else {
              const float* rowsA = a + long(ic + ir) * lda + pc;
              tile<false>(kc, rowsA, lda, panelB, alpha, betaHere, out, ldc, rows, cols);
              prefetchA(rowsA, lda, least(MR, m - (ic + ir + MR)), kc, lines, fetched, perTile);
            }
          }
      }
    }
  }
}

/** y[i] = alpha·A[i, :]·x + beta·y[i] for A [m, n]: four rows at a time, each a sum over vectors of the row. */
void gemvRows(int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y) {
  const int whole = n / W * W;
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    const float* r = a + long(i) * lda;
    Vec s0{}, s1{}, s2{}, s3{};
    for (int j = 0; j < whole; j += W) {
      const Vec xv = load(x + j);
      s0 += load(r + j) * xv;
      s1 += load(r + lda + j) * xv;
      s2 += load(r + 2L * lda + j) * xv;
      s3 += load(r + 3L * lda + j) * xv;
    }
    float d[4] = {lanes(s0), lanes(s1), lanes(s2), lanes(s3)};
    for (int j = whole; j < n; j++)
      for (int q = 0; q < 4; q++) d[q] += r[q * long(lda) + j] * x[j];
    for (int q = 0; q < 4; q++) y[i + q] = beta == 0.0f ? alpha * d[q] : alpha * d[q] + beta * y[i + q];
  }
  for (; i < m; i++) {
    const float* r = a + long(i) * lda;
    Vec s{};
    for (int j = 0; j < whole; j += W) s += load(r + j) * load(x + j);
    float d = lanes(s);
    for (int j = whole; j < n; j++) d += r[j] * x[j];
    y[i] = beta == 0.0f ? alpha * d : alpha * d + beta * y[i];
  }
}

/** y[j] = alpha·(Aᵀx)[j] + beta·y[j] for A [m, n]: y scaled first, then four rows of A at a time added in, each row read once in order. */
void gemvColumns(int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y) {
  for (int j = 0; j < n; j++) y[j] = beta == 0.0f ? 0.0f : beta * y[j];
  const int whole = n / W * W;
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    const float* r = a + long(i) * lda;
    const float x0 = alpha * x[i], x1 = alpha * x[i + 1], x2 = alpha * x[i + 2], x3 = alpha * x[i + 3];
    const Vec v0 = splat(x0), v1 = splat(x1), v2 = splat(x2), v3 = splat(x3);
    for (int j = 0; j < whole; j += W)
      store(y + j, load(y + j) + v0 * load(r + j) + v1 * load(r + lda + j) + v2 * load(r + 2L * lda + j) + v3 * load(r + 3L * lda + j));
    for (int j = whole; j < n; j++) y[j] += x0 * r[j] + x1 * r[lda + j] + x2 * r[2L * lda + j] + x3 * r[3L * lda + j];
  }
  for (; i < m; i++) {
    const float* r = a + long(i) * lda;
    const float xi = alpha * x[i];
    const Vec v = splat(xi);
    for (int j = 0; j < whole; j += W) store(y + j, load(y + j) + v * load(r + j));
    for (int j = whole; j < n; j++) y[j] += xi * r[j];
  }
}

void sgemv(bool ta, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y) {
  if (ta) gemvColumns(m, n, alpha, a, lda, x, beta, y);
  else gemvRows(m, n, alpha, a, lda, x, beta, y);
}

}  // namespace

/** This instruction set's kernels, for gemm.cc's choice. */
const gemm::Kernels kernels = {KC * MC, KC * NC, sgemm, sgemv};

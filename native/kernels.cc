#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "pool.h"

// One build runs on every x86-64 CPU; the hot loops get AVX-512 and AVX2+FMA copies picked at load time.
#if defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
#define HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HOT
#endif

namespace kernels {
namespace {

// One pool per JS thread (the training worker, the inference worker, a test's main thread): its
// threads are started by that thread, so they take its nice value (the training worker runs at
// nice 10 so the editor comes first), and two workers never wait for each other's pool.
thread_local Pool pool;

// Below this many multiply-adds a product is not worth handing to other threads.
constexpr double kSplitWork = 1 << 18;

#pragma GCC diagnostic ignored "-Wpsabi"  // vectors are passed only to inlined helpers

// Cephes' expf (as the AssemblyScript kernels), branch-free so loops vectorise; valid for |x| ≤ 87.
// F is float or a vector of floats (Vec), U the unsigned integers of its size.
template <typename F, typename U>
inline F expCoreOf(F x) {
  const float rounder = 12582912.0f;
  const F shifted = x * 1.44269504088896341f + rounder;
  const F n = shifted - rounder;
  const F r = x - n * 0.693359375f - n * -2.12194440e-4f;
  F p = r * 0.0f + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F y = p * r * r + r + 1.0f;
  U bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  bits = (bits - (0x4b400000u - 127u)) << 23;
  F pow2;
  std::memcpy(&pow2, &bits, sizeof pow2);
  return y * pow2;
}

inline float expCore(float x) { return expCoreOf<float, uint32_t>(x); }

inline float expApprox(float x) {
  x = x < -87.3365447505531f ? -87.3365447505531f : x;
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  return expCore(x);
}

constexpr float kC = 0.7978845608028654f;  // √(2/π)
constexpr float kA = 0.044715f;

// With u = √(2/π)(v + 0.044715v³): ½v(1 + tanh u) = v·σ(2u) and 1 − tanh²u = 4σ(1 − σ). The
// exponent is clamped to ±80 (σ stays a normal float there; a denormal costs ~100 cycles) in
// one place: GCC turns clamps inside expApprox here into blends around a far slower division.
inline float expMinusTwoU(float v) {
  float z = -2.0f * kC * (v + kA * v * v * v);
  z = z > 80.0f ? 80.0f : z;
  z = z < -80.0f ? -80.0f : z;
  return expCore(z);
}

/** Splits [0, n) into at most `pool.size()`·2 chunks of at least `grain` and runs f(begin, end) on each. */
template <typename F>
void parallelRange(long n, long grain, F f) {
  const long workers = pool.size();
  long chunks = std::min<long>(workers * 2, (n + grain - 1) / grain);
  // Whole rounds: 3 chunks on 2 threads would take as long as 4.
  if (chunks > workers) chunks = chunks / workers * workers;
  if (chunks <= 1) {
    f(0L, n);
    return;
  }
  const long step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  pool.run(int(chunks), [&](int i) { f(i * step, std::min(n, (i + 1) * step)); });
}

void blas(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  gemm::sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

HOT void geluRange(const float* x, float* y, long from, long to) {
#pragma omp simd
  for (long i = from; i < to; i++) y[i] = x[i] / (1.0f + expMinusTwoU(x[i]));
}

HOT void geluSlopeRange(const float* x, const float* dy, float* dx, long from, long to) {
#pragma omp simd
  for (long i = from; i < to; i++) {
    const float v = x[i];
    const float s = 1.0f / (1.0f + expMinusTwoU(v));
    dx[i] = dy[i] * (s + v * (s * (1.0f - s)) * (2.0f * kC * (1.0f + 3.0f * kA * v * v)));
  }
}

HOT void layerNormRows(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int from, int to, int cols, float eps) {
  for (int r = from; r < to; r++) {
    const float* row = x + long(r) * cols;
    float* out = y + long(r) * cols;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < cols; j++) sum += row[j];
    const float mu = sum / cols;
    float sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int j = 0; j < cols; j++) sq += (row[j] - mu) * (row[j] - mu);
    const float rs = 1.0f / std::sqrt(sq / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (int j = 0; j < cols; j++) out[j] = (row[j] - mu) * rs * w[j] + b[j];
  }
}

HOT void layerNormBackRows(const float* x, const float* w, const float* mean, const float* rstd, const float* dy, const float* plus, float* dx, float* dw,
                           float* db, int from, int to, int cols) {
  for (int r = from; r < to; r++) {
    const float* xr = x + long(r) * cols;
    const float* gr = dy + long(r) * cols;
    float* outr = dx + long(r) * cols;
    const float mu = mean[r], rs = rstd[r];
    float sumG = 0, sumGX = 0;
#pragma omp simd reduction(+ : sumG, sumGX)
    for (int j = 0; j < cols; j++) {
      const float xhat = (xr[j] - mu) * rs;
      const float gw = gr[j] * w[j];
      sumG += gw;
      sumGX += gw * xhat;
      dw[j] += gr[j] * xhat;
      db[j] += gr[j];
    }
    const float a = sumG / cols, c = sumGX / cols;
#pragma omp simd
    for (int j = 0; j < cols; j++) {
      const float xhat = (xr[j] - mu) * rs;
      outr[j] = rs * (gr[j] * w[j] - a - xhat * c);
    }
    if (plus) {
      const float* pr = plus + long(r) * cols;
#pragma omp simd
      for (int j = 0; j < cols; j++) outr[j] += pr[j];
    }
  }
}

HOT void adamwRange(const float* p, const float* g, const float* m, const float* v, float* pOut, float* mOut, float* vOut, long from, long to, float lr,
                    float beta1, float omb1, float beta2, float omb2, float c1, float c2, float eps, float keep, float scale) {
#pragma omp simd
  for (long i = from; i < to; i++) {
    const float gi = g[i] * scale;
    const float mi = m[i] * beta1 + gi * omb1;
    const float vi = v[i] * beta2 + gi * gi * omb2;
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = p[i] * keep - mi / c1 / (std::sqrt(vi / c2) + eps) * lr;
  }
}

// The causal softmax works on whole vectors of 16 with the columns past the diagonal masked:
// loops over a row's first i + 1 columns, left to the compiler, ran their short rows mostly in
// scalar code (its leftover columns, and a loop split off where the mask changes).
typedef float Vec __attribute__((vector_size(64)));
typedef int32_t IntVec __attribute__((vector_size(64)));
typedef uint32_t BitsVec __attribute__((vector_size(64)));
constexpr int kLanes = 16;
constexpr IntVec kLane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/** Floats p[0 … n − 1] (n ≤ kLanes) into a vector, the lanes past n zero. */
__attribute__((always_inline)) inline Vec loadUpTo(const float* p, int n) {
  Vec v = {};
  if (n >= kLanes) std::memcpy(&v, p, sizeof v);
  else std::memcpy(&v, p, sizeof(float) * n);
  return v;
}

__attribute__((always_inline)) inline void storeUpTo(float* p, Vec v, int n) { std::memcpy(p, &v, sizeof(float) * std::min(n, kLanes)); }

__attribute__((always_inline)) inline float laneSum(Vec v) {
  float s = 0;
  for (int k = 0; k < kLanes; k++) s += v[k];
  return s;
}

__attribute__((always_inline)) inline Vec expApproxVec(Vec x) {
  x = x < -87.3365447505531f ? -87.3365447505531f : x;
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  return expCoreOf<Vec, BitsVec>(x);
}

/** Row i of a causal score matrix into probabilities: softmax over j ≤ i, zeros after. */
HOT void causalSoftmaxRows(float* s, int t) {
  for (int i = 0; i < t; i++) {
    float* row = s + long(i) * t;
    const int used = i + 1;
    float mx = row[0];
    for (int j = 0; j < used; j += kLanes) {
      const Vec x = loadUpTo(row + j, t - j);
      for (int k = 0; k < kLanes && j + k <= i; k++) mx = x[k] > mx ? x[k] : mx;
    }
    Vec sum = {};
    for (int j = 0; j < used; j += kLanes) {
      const Vec e = expApproxVec(loadUpTo(row + j, t - j) - mx);
      const Vec p = kLane + j <= i ? e : Vec{};
      sum += p;
      storeUpTo(row + j, p, t - j);
    }
    const float inv = 1.0f / laneSum(sum);
    for (int j = 0; j < used; j += kLanes) storeUpTo(row + j, loadUpTo(row + j, t - j) * inv, t - j);
    for (int j = (used + kLanes - 1) / kLanes * kLanes; j < t; j++) row[j] = 0;
  }
}

/** dS = P ∘ (dP − rowsum(P ∘ dP)) · scale, in place over dP (P is zero past the diagonal). */
HOT void softmaxBackRows(const float* p, float* dp, int t, float scale) {
  for (int i = 0; i < t; i++) {
    const float* pr = p + long(i) * t;
    float* dr = dp + long(i) * t;
    const int used = i + 1;
    Vec dot = {};
    for (int j = 0; j < used; j += kLanes) dot += loadUpTo(pr + j, t - j) * loadUpTo(dr + j, t - j);
    const float d = laneSum(dot);
    for (int j = 0; j < used; j += kLanes) {
      const Vec ds = loadUpTo(pr + j, t - j) * (loadUpTo(dr + j, t - j) - d) * scale;
      storeUpTo(dr + j, kLane + j <= i ? ds : Vec{}, t - j);
    }
    for (int j = (used + kLanes - 1) / kLanes * kLanes; j < t; j++) dr[j] = 0;
  }
}

HOT float logSumExpRow(const float* row, int vocab) {
  float mx = row[0];
#pragma omp simd reduction(max : mx)
  for (int j = 1; j < vocab; j++) mx = row[j] > mx ? row[j] : mx;
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < vocab; j++) sum += expApprox(row[j] - mx);
  return mx + std::log(sum);
}

HOT void softmaxMinusOneHotRow(const float* row, float lse, int target, float scale, float* out, int vocab) {
#pragma omp simd
  for (int j = 0; j < vocab; j++) out[j] = expApprox(row[j] - lse) * scale;
  if (target >= 0 && target < vocab) out[target] -= scale;
}


HOT void rmsNormRows(const float* x, const float* w, float* y, float* rstd, long from, long to, int cols, float eps) {
  for (long r = from; r < to; r++) {
    const float* row = x + r * cols;
    float* out = y + r * cols;
    float sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int j = 0; j < cols; j++) sq += row[j] * row[j];
    const float rs = 1.0f / std::sqrt(sq / cols + eps);
    rstd[r] = rs;
#pragma omp simd
    for (int j = 0; j < cols; j++) out[j] = row[j] * rs * w[j];
  }
}

HOT void rmsNormBackRows(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw, long from, long to, int cols) {
  for (long r = from; r < to; r++) {
    const float* xr = x + r * cols;
    const float* gr = dy + r * cols;
    float* outr = dx + r * cols;
    const float rs = rstd[r];
    float sumGX = 0;
#pragma omp simd reduction(+ : sumGX)
    for (int j = 0; j < cols; j++) {
      const float xhat = xr[j] * rs;
      sumGX += gr[j] * w[j] * xhat;
      dw[j] += gr[j] * xhat;
    }
    const float c = sumGX / cols;
#pragma omp simd
    for (int j = 0; j < cols; j++) outr[j] = rs * (gr[j] * w[j] - xr[j] * rs * c);
  }
}

HOT void rotaryRows(const float* x, const float* cos, const float* sin, float* y, long from, long to, int t, int inner, int half, float sign) {
  for (long r = from; r < to; r++) {
    const long p = (r / inner) % t;
    const float* c = cos + p * half;
    const float* s = sin + p * half;
    const float* x1 = x + r * 2 * half;
    const float* x2 = x1 + half;
    float* y1 = y + r * 2 * half;
    float* y2 = y1 + half;
#pragma omp simd
    for (int i = 0; i < half; i++) {
      const float a = x1[i], b = x2[i], si = sign * s[i];
      y1[i] = a * c[i] - b * si;
      y2[i] = b * c[i] + a * si;
    }
  }
}

// σ(x) = 1 / (1 + e^−x), the exponent clamped to ±80 here (σ stays a normal float) for the reason
// given at expMinusTwoU: with expApprox's clamps, SwiGLU's loops ran ~8× slower.
inline float sigmoid(float x) {
  float z = -x;
  z = z > 80.0f ? 80.0f : z;
  z = z < -80.0f ? -80.0f : z;
  return 1.0f / (1.0f + expCore(z));
}

HOT void swigluRange(const float* g, const float* u, float* y, long from, long to) {
#pragma omp simd
  for (long i = from; i < to; i++) y[i] = g[i] * sigmoid(g[i]) * u[i];
}

HOT void swigluBackRange(const float* g, const float* u, const float* dy, float* dg, float* du, long from, long to) {
#pragma omp simd
  for (long i = from; i < to; i++) {
    const float s = sigmoid(g[i]);
    const float silu = g[i] * s;
    dg[i] = dy[i] * u[i] * (s + silu * (1.0f - s));
    du[i] = dy[i] * silu;
  }
}

HOT float squaresRange(const float* x, long from, long to) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (long j = from; j < to; j++) s += x[j] * x[j];
  return s;
}

/** Column sums of `chunks` partial [cols] rows into out. */
void addPartials(const std::vector<float>& partial, int chunks, int cols, float* out) {
  std::memcpy(out, partial.data(), sizeof(float) * cols);
  for (int i = 1; i < chunks; i++)
    for (int j = 0; j < cols; j++) out[j] += partial[size_t(i) * cols + j];
}
}  // namespace

void setThreads(int n) { pool.resize(n); }

int threads() { return pool.size(); }

void parallel(int tasks, const std::function<void(int)>& f) { pool.run(tasks, f); }

namespace {

/** How a product's C [m, n] (k deep) is split across the pool: its larger side into one block per thread, in multiples of 16. */
struct Split {
  bool byRows;
  int m, n, block, count;

  Split(int m, int n, int k) : byRows(m >= n), m(m), n(n) {
    const int workers = pool.size();
    const int side = byRows ? m : n;
    if (workers <= 1 || double(m) * n * k < kSplitWork * workers) {
      block = side;
      count = 1;
      return;
    }
    block = ((side + workers - 1) / workers + 15) / 16 * 16;
    count = (side + block - 1) / block;
  }

  Block at(int i) const {
    const int from = i * block, size = std::min(byRows ? m : n, from + block) - from;
    return byRows ? Block{from, size, 0, n} : Block{0, m, from, size};
  }
};

/** Block z of C = alpha·op(A)·op(B) + beta·C on this thread (the same floats as the whole product's). */
void gemmBlock(bool ta, bool tb, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc, const Block& z) {
  blas(ta, tb, z.rows, z.cols, k, alpha, ta ? a + z.row : a + long(z.row) * lda, lda, tb ? b + long(z.col) * ldb : b + z.col, ldb, beta,
       c + long(z.row) * ldc + z.col, ldc);
}

/** f(0 … tasks − 1) on the pool, or here when there is one. */
template <typename F>
void runTasks(int tasks, const F& f) {
  if (tasks == 1) f(0);
  else pool.run(tasks, f);
}

HOT void columnSumsRange(const float* x, float* out, int rows, int cols, int from, int to) {
  std::fill(out + from, out + to, 0.0f);
  for (int r = 0; r < rows; r++) {
    const float* row = x + long(r) * cols;
#pragma omp simd
    for (int j = from; j < to; j++) out[j] += row[j];
  }
}

}  // namespace

void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  const Split split(m, n, k);
  runTasks(split.count, [&](int i) { gemmBlock(ta, tb, k, alpha, a, lda, b, ldb, beta, c, ldc, split.at(i)); });
}

void gemms(const Product* p, int count) {
  struct Chain {
    int first, end;
    Split split;
  };
  std::vector<Chain> chains;
  std::vector<std::pair<int, int>> tasks;  // (chain, block)
  for (int i = 0, end; i < count; i = end) {
    double depth = 0;
    for (end = i; end < count && p[end].c == p[i].c; end++) depth += p[end].k;
    chains.push_back({i, end, Split(p[i].m, p[i].n, int(depth))});
    for (int b = 0; b < chains.back().split.count; b++) tasks.push_back({int(chains.size()) - 1, b});
  }
  runTasks(int(tasks.size()), [&](int t) {
    const Chain& chain = chains[tasks[t].first];
    const Block z = chain.split.at(tasks[t].second);
    for (int i = chain.first; i < chain.end; i++) {
      const Product& q = p[i];
      gemmBlock(q.ta, q.tb, q.k, q.alpha, q.a, q.lda, q.b, q.ldb, q.beta, q.c, q.ldc, z);
    }
  });
}

void gemv(bool ta, int m, int n, const float* a, int lda, const float* x, float beta, float* y) {
  const int outputs = ta ? n : m;
  const auto part = [&](int from, int size) {
    if (ta) gemm::sgemv(true, m, size, 1.0f, a + from, lda, x, beta, y + from);
    else gemm::sgemv(false, size, n, 1.0f, a + long(from) * lda, lda, x, beta, y + from);
  };
  const int workers = pool.size();
  if (workers <= 1 || double(m) * n < kSplitWork * workers) {
    part(0, outputs);
    return;
  }
  const int block = ((outputs + workers - 1) / workers + 15) / 16 * 16;
  const int blocks = (outputs + block - 1) / block;
  pool.run(blocks, [&](int i) {
    const int from = i * block;
    part(from, std::min(outputs, from + block) - from);
  });
}

void gemvRows(int count, const float* const* a, const int* rows, int n, const float* x, float* const* y) {
  long total = 0;
  for (int i = 0; i < count; i++) total += rows[i];
  // A few chunks per thread, so a thread the OS has paused holds up little of the step.
  const int workers = pool.size();
  const bool alone = workers <= 1 || double(total) * n < kSplitWork * workers;
  const int step = alone ? int(total) : std::max<int>(16, int((total / (workers * 4) + 15) / 16 * 16));
  struct Chunk {
    int matrix, from, size;
  };
  std::vector<Chunk> chunks;
  for (int i = 0; i < count; i++)
    for (int from = 0; from < rows[i]; from += step) chunks.push_back({i, from, std::min(step, rows[i] - from)});
  const auto run = [&](int c) {
    const Chunk& k = chunks[c];
    gemm::sgemv(false, k.size, n, 1.0f, a[k.matrix] + long(k.from) * n, n, x, 1.0f, y[k.matrix] + k.from);
  };
  if (alone) {
    for (int c = 0; c < int(chunks.size()); c++) run(c);
  } else {
    pool.run(int(chunks.size()), run);
  }
}

void gemmBatched(int count, bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, long strideA, const float* b, int ldb,
                 long strideB, float beta, float* c, int ldc, long strideC) {
  if (count == 1) {
    gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  pool.run(count, [&](int i) { blas(ta, tb, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC, ldc); });
}

void linearForward(const float* x, const float* w, const float* bias, float* y, int n, int in, int out) {
  linearForwardThen(x, w, bias, y, n, in, out, nullptr);
}

void linearForwardThen(const float* x, const float* w, const float* bias, float* y, int n, int in, int out, const BlockTask& then) {
  const Split split(n, out, in);
  runTasks(split.count, [&](int i) {
    const Block z = split.at(i);
    for (int r = z.row; r < z.row + z.rows; r++) std::memcpy(y + long(r) * out + z.col, bias + z.col, sizeof(float) * z.cols);
    gemmBlock(false, false, in, 1.0f, x, in, w, out, 1.0f, y, out, z);
    if (then) then(z);
  });
}

void linearBackward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int n, int in, int out) {
  linearBackwardThen(x, w, dy, dx, dw, db, n, in, out, nullptr);
}

// dx's blocks, dw's blocks and db's column blocks as the tasks of one dispatch, so a thread that
// is done with one product takes up the next instead of waiting for the other thread's half.
void linearBackwardThen(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int n, int in, int out, const BlockTask& then) {
  const Split forDx(n, in, out), forDw(in, out, n);
  const int sums = forDx.count > 1 ? std::max(1, std::min(pool.size(), out / 64)) : 1;
  const int width = (out + sums - 1) / sums;
  runTasks(forDx.count + forDw.count + sums, [&](int i) {
    if (i < forDx.count) {
      const Block z = forDx.at(i);
      gemmBlock(false, true, out, 1.0f, dy, out, w, out, 0.0f, dx, in, z);
      if (then) then(z);
    } else if ((i -= forDx.count) < forDw.count) {
      gemmBlock(true, false, n, 1.0f, x, in, dy, out, 0.0f, dw, out, forDw.at(i));
    } else {
      i -= forDw.count;
      columnSumsRange(dy, db, n, out, i * width, std::min(out, (i + 1) * width));
    }
  });
}

// qkv [b·t, 3c] holds each token's q, k and v side by side, head j at columns j·d: BLAS reads
// each head's [t, d] block in place with a leading dimension of 3c, so nothing is gathered.
void attentionForward(const float* qkv, float* out, float* probs, int b, int t, int h, int d) {
  const int c = h * d, ld = 3 * c;
  const float scale = 1.0f / std::sqrt(float(d));
  pool.run(b * h, [&](int task) {
    const int bi = task / h, hi = task % h;
    const float* q = qkv + long(bi) * t * ld + hi * d;
    float* p = probs + long(task) * t * t;
    blas(false, true, t, t, d, scale, q, ld, q + c, ld, 0.0f, p, t);
    causalSoftmaxRows(p, t);
    blas(false, false, t, d, t, 1.0f, p, t, q + 2 * c, ld, 0.0f, out + long(bi) * t * c + hi * d, c);
  });
}

void attentionBackward(const float* qkv, const float* probs, const float* dOut, float* dQkv, int b, int t, int h, int d) {
  const int c = h * d, ld = 3 * c;
  const float scale = 1.0f / std::sqrt(float(d));
  pool.run(b * h, [&](int task) {
    thread_local std::vector<float> scratch;
    scratch.resize(size_t(t) * t);
    float* ds = scratch.data();
    const int bi = task / h, hi = task % h;
    const float* q = qkv + long(bi) * t * ld + hi * d;
    const float* p = probs + long(task) * t * t;
    const float* dy = dOut + long(bi) * t * c + hi * d;
    float* dq = dQkv + long(bi) * t * ld + hi * d;
    blas(false, true, t, t, d, 1.0f, dy, c, q + 2 * c, ld, 0.0f, ds, t);     // dP = dY·Vᵀ
    blas(true, false, t, d, t, 1.0f, p, t, dy, c, 0.0f, dq + 2 * c, ld);      // dV = Pᵀ·dY
    softmaxBackRows(p, ds, t, scale);                                         // dS
    blas(false, false, t, d, t, 1.0f, ds, t, q + c, ld, 0.0f, dq, ld);        // dQ = dS·K
    blas(true, false, t, d, t, 1.0f, ds, t, q, ld, 0.0f, dq + c, ld);         // dK = dSᵀ·Q
  });
}

void geluForward(const float* x, float* y, long n) {
  parallelRange(n, 1 << 15, [&](long from, long to) { geluRange(x, y, from, to); });
}

void geluBackward(const float* x, const float* dy, float* dx, long n) {
  parallelRange(n, 1 << 15, [&](long from, long to) { geluSlopeRange(x, dy, dx, from, to); });
}

void layerNormForward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int rows, int cols, float eps) {
  parallelRange(rows, std::max(1, (1 << 15) / cols), [&](long from, long to) { layerNormRows(x, w, b, y, mean, rstd, int(from), int(to), cols, eps); });
}

void layerNormBackward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy, float* dx, float* dw, float* db, int rows,
                       int cols, const float* plus) {
  // Each chunk of rows sums its own dγ, dβ; the partial sums are added in chunk order.
  const int grain = std::max(1, (1 << 15) / cols);
  const int chunks = std::max(1, std::min(pool.size() * 2, (rows + grain - 1) / grain));
  const int step = (rows + chunks - 1) / chunks;
  std::vector<float> partial(size_t(chunks) * 2 * cols, 0.0f);
  pool.run(chunks, [&](int i) {
    float* pw = partial.data() + size_t(i) * 2 * cols;
    layerNormBackRows(x, w, mean, rstd, dy, plus, dx, pw, pw + cols, i * step, std::min(rows, (i + 1) * step), cols);
  });
  std::memcpy(dw, partial.data(), sizeof(float) * cols);
  std::memcpy(db, partial.data() + cols, sizeof(float) * cols);
  for (int i = 1; i < chunks; i++) {
    const float* pw = partial.data() + size_t(i) * 2 * cols;
    for (int j = 0; j < cols; j++) {
      dw[j] += pw[j];
      db[j] += pw[cols + j];
    }
  }
}

void adamwUpdate(const float* p, const float* g, const float* m, const float* v, float* pOut, float* mOut, float* vOut, long n, float lr, float beta1,
                 float oneMinusBeta1, float beta2, float oneMinusBeta2, float c1, float c2, float eps, float keep, float gradScale) {
  parallelRange(n, 1 << 16, [&](long from, long to) {
    adamwRange(p, g, m, v, pOut, mOut, vOut, from, to, lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, c1, c2, eps, keep, gradScale);
  });
}

void rmsNormForward(const float* x, const float* w, float* y, float* rstd, int rows, int cols, float eps) {
  parallelRange(rows, std::max(1, (1 << 15) / cols), [&](long from, long to) { rmsNormRows(x, w, y, rstd, from, to, cols, eps); });
}

void rmsNormBackward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw, int rows, int cols) {
  // Each chunk of rows sums its own dw; the partial sums are added in chunk order (same result on any thread count).
  const int grain = std::max(1, (1 << 15) / cols);
  const int chunks = std::max(1, std::min(pool.size() * 2, (rows + grain - 1) / grain));
  const int step = (rows + chunks - 1) / chunks;
  std::vector<float> partial(size_t(chunks) * cols, 0.0f);
  pool.run(chunks, [&](int i) { rmsNormBackRows(x, w, rstd, dy, dx, partial.data() + size_t(i) * cols, long(i) * step, std::min(rows, (i + 1) * step), cols); });
  addPartials(partial, chunks, cols, dw);
}

void rotary(const float* x, const float* cos, const float* sin, float* y, long rows, int t, int inner, int half, bool inverse) {
  parallelRange(rows, std::max(1, (1 << 14) / half), [&](long from, long to) { rotaryRows(x, cos, sin, y, from, to, t, inner, half, inverse ? -1.0f : 1.0f); });
}

void swigluForward(const float* gate, const float* up, float* y, long n) {
  parallelRange(n, 1 << 15, [&](long from, long to) { swigluRange(gate, up, y, from, to); });
}

void swigluBackward(const float* gate, const float* up, const float* dy, float* dGate, float* dUp, long n) {
  parallelRange(n, 1 << 15, [&](long from, long to) { swigluBackRange(gate, up, dy, dGate, dUp, from, to); });
}

// Each (sequence, head) reads its query head's [t, d] block in q and its group's block in k and v
// in place (leading dimensions h·d and kv·d), as attentionForward does with qkv.
// Causal attention's products skip the keys past the diagonal a block of kCausalRows query rows
// at a time (3/8 of their work at t = 128): the scores there are never read (the softmax reads a
// row up to its diagonal rounded up to whole vectors, which divide kCausalRows, and writes zeros
// past it), and the probabilities there are zeros, so every sum has the same terms as over all keys.
constexpr int kCausalRows = 32;

void groupedAttentionForward(const float* q, const float* k, const float* v, float* out, float* probs, int b, int t, int h, int kv, int d) {
  const int ldq = h * d, ldk = kv * d, group = h / kv;
  const float scale = 1.0f / std::sqrt(float(d));
  pool.run(b * h, [&](int task) {
    const int bi = task / h, hi = task % h, g = hi / group;
    const float* qh = q + long(bi) * t * ldq + hi * d;
    const float* kg = k + long(bi) * t * ldk + g * d;
    const float* vg = v + long(bi) * t * ldk + g * d;
    float* p = probs + long(task) * t * t;
    float* o = out + long(bi) * t * ldq + hi * d;
    for (int i = 0; i < t; i += kCausalRows) {
      const int rows = std::min(kCausalRows, t - i);
      blas(false, true, rows, i + rows, d, scale, qh + long(i) * ldq, ldq, kg, ldk, 0.0f, p + long(i) * t, t);
    }
    causalSoftmaxRows(p, t);
    for (int i = 0; i < t; i += kCausalRows) {
      const int rows = std::min(kCausalRows, t - i);
      blas(false, false, rows, d, i + rows, 1.0f, p + long(i) * t, t, vg, ldk, 0.0f, o + long(i) * ldq, ldq);
    }
  });
}

// One task per (sequence, key/value head): its query heads add into the same dK and dV blocks one
// after another, so no two threads write the same block.
void groupedAttentionBackward(const float* q, const float* k, const float* v, const float* probs, const float* dOut, float* dq, float* dk, float* dv,
                              int b, int t, int h, int kv, int d) {
  const int ldq = h * d, ldk = kv * d, group = h / kv;
  const float scale = 1.0f / std::sqrt(float(d));
  pool.run(b * kv, [&](int task) {
    thread_local std::vector<float> scratch;
    scratch.resize(size_t(t) * t);
    float* ds = scratch.data();
    const int bi = task / kv, g = task % kv;
    const float* kg = k + long(bi) * t * ldk + g * d;
    const float* vg = v + long(bi) * t * ldk + g * d;
    float* dkg = dk + long(bi) * t * ldk + g * d;
    float* dvg = dv + long(bi) * t * ldk + g * d;
    for (int j = 0; j < group; j++) {
      const int hi = g * group + j;
      const float beta = j == 0 ? 0.0f : 1.0f;
      const float* qh = q + long(bi) * t * ldq + hi * d;
      const float* p = probs + (long(bi) * h + hi) * t * t;
      const float* dy = dOut + long(bi) * t * ldq + hi * d;
      float* dqh = dq + long(bi) * t * ldq + hi * d;
      // Query rows i … i + rows read keys up to i + rows; key rows j … j + rows are read by queries from j on.
      for (int i = 0; i < t; i += kCausalRows) {
        const int rows = std::min(kCausalRows, t - i);
        blas(false, true, rows, i + rows, d, 1.0f, dy + long(i) * ldq, ldq, vg, ldk, 0.0f, ds + long(i) * t, t);  // dP = dY·Vᵀ
        blas(true, false, rows, d, t - i, 1.0f, p + long(i) * t + i, t, dy + long(i) * ldq, ldq, beta, dvg + long(i) * ldk, ldk);  // dV += Pᵀ·dY
      }
      softmaxBackRows(p, ds, t, scale);  // dS
      for (int i = 0; i < t; i += kCausalRows) {
        const int rows = std::min(kCausalRows, t - i);
        blas(false, false, rows, d, i + rows, 1.0f, ds + long(i) * t, t, kg, ldk, 0.0f, dqh + long(i) * ldq, ldq);  // dQ = dS·K
        blas(true, false, rows, d, t - i, 1.0f, ds + long(i) * t + i, t, qh + long(i) * ldq, ldq, beta, dkg + long(i) * ldk, ldk);  // dK += dSᵀ·Q
      }
    }
  });
}

static int trainedTargets(const int32_t* targets, int n) {
  int count = 0;
  for (int r = 0; r < n; r++) count += targets[r] >= 0;
  return count;
}

float crossEntropyForward(const float* logits, const int32_t* targets, float* lse, int n, int vocab) {
  parallelRange(n, std::max(1, (1 << 15) / vocab), [&](long from, long to) {
    for (long r = from; r < to; r++) lse[r] = logSumExpRow(logits + r * vocab, vocab);
  });
  double total = 0;
  for (int r = 0; r < n; r++)
    if (targets[r] >= 0) total += lse[r] - logits[long(r) * vocab + targets[r]];
  return float(total / std::max(1, trainedTargets(targets, n)));
}

void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse, float dLoss, float* dLogits, int n, int vocab) {
  const float scale = dLoss / float(std::max(1, trainedTargets(targets, n)));
  parallelRange(n, std::max(1, (1 << 15) / vocab), [&](long from, long to) {
    for (long r = from; r < to; r++) {
      if (targets[r] >= 0) softmaxMinusOneHotRow(logits + r * vocab, lse[r], targets[r], scale, dLogits + r * vocab, vocab);
      else std::fill(dLogits + r * vocab, dLogits + (r + 1) * vocab, 0.0f);
    }
  });
}

void embeddingForward(const float* table, const int32_t* ids, float* out, int n, int vocab, int c) {
  for (int r = 0; r < n; r++) {
    const int id = ids[r];
    if (id >= 0 && id < vocab) std::memcpy(out + long(r) * c, table + long(id) * c, sizeof(float) * c);
    else std::fill(out + long(r) * c, out + long(r + 1) * c, 0.0f);
  }
}

void embeddingBackward(const int32_t* ids, const float* dy, float* dTable, int n, int vocab, int c) {
  parallelRange(long(vocab) * c, 1 << 16, [&](long from, long to) { std::fill(dTable + from, dTable + to, 0.0f); });
  embeddingBackwardAdd(ids, dy, dTable, n, vocab, c);
}

void embeddingBackwardAdd(const int32_t* ids, const float* dy, float* dTable, int n, int vocab, int c) {
  // Rows of dy grouped by id (in row order within a group): each group is summed first and then
  // added once, so the result equals adding the plain scatter's table to dTable, bit for bit.
  std::vector<int> order;
  order.reserve(n);
  for (int r = 0; r < n; r++)
    if (ids[r] >= 0 && ids[r] < vocab) order.push_back(r);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ids[a] < ids[b]; });
  // Each thread owns a block of the table's columns, so rows with the same id never race.
  const int blocks = std::max(1, std::min(pool.size(), c / 16));
  const int width = (c + blocks - 1) / blocks;
  pool.run(blocks, [&](int b) {
    const int from = b * width, to = std::min(c, from + width);
    if (from >= to) return;
    std::vector<float> sum(to - from);
    for (size_t i = 0; i < order.size();) {
      const int id = ids[order[i]];
      const float* first = dy + long(order[i]) * c;
      std::copy(first + from, first + to, sum.begin());
      size_t k = i + 1;
      for (; k < order.size() && ids[order[k]] == id; k++) {
        const float* src = dy + long(order[k]) * c;
        for (int j = from; j < to; j++) sum[j - from] += src[j];
      }
      float* dst = dTable + long(id) * c;
      for (int j = from; j < to; j++) dst[j] += sum[j - from];
      i = k;
    }
  });
}

double sumSquares(const float* x, long n) {
  const long chunk = 1 << 16;
  const long chunks = (n + chunk - 1) / chunk;
  std::vector<double> partial(chunks, 0.0);
  parallelRange(chunks, 1, [&](long from, long to) {
    for (long i = from; i < to; i++) partial[i] = squaresRange(x, i * chunk, std::min(n, (i + 1) * chunk));
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

void columnSums(const float* x, float* out, int rows, int cols) { columnSumsRange(x, out, rows, cols, 0, cols); }

void transpose2d(const float* src, float* dst, int rows, int cols) {
  constexpr int B = 32;
  for (int r0 = 0; r0 < rows; r0 += B)
    for (int c0 = 0; c0 < cols; c0 += B)
      for (int r = r0; r < std::min(rows, r0 + B); r++)
        for (int c = c0; c < std::min(cols, c0 + B); c++) dst[long(c) * rows + r] = src[long(r) * cols + c];
}

void expArray(const float* x, float* y, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] = expApprox(x[i]);
}

}  // namespace kernels

#include "bf16.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "gemm.h"
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bf16 {
namespace {

// The fewest rows (or columns) of W widened per task: a block of 64 × 4,864 floats is 1.2 MB.
constexpr int kBlock = 64;
// At most this many floats of W widened at once (16 MB a thread).
constexpr long kMaxWidened = 4L << 20;

/** This thread's buffer of at least `floats` floats, kept between calls (a fresh one each time costs its page faults). */
float* scratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

/** Σ widen(w[j])·x[j], the portable way: eight partial sums the compiler can vectorise. */
float dotPortable(const uint16_t* w, const float* x, int n) {
  float sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) sums[k] += widen(w[j + k]) * x[j + k];
  float s = 0;
  for (float v : sums) s += v;
  for (; j < n; j++) s += widen(w[j]) * x[j];
  return s;
}

#if defined(__x86_64__)
// AVX-512: 16 BF16 values widened by a zero-extend and a shift (exact, unlike vdpbf16ps, which
// would round x to BF16 too), then fused multiply-adds into two accumulators.
__attribute__((target("avx512f"))) inline __m512 load16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

__attribute__((target("avx512f"))) float dotAvx512(const uint16_t* w, const float* x, int n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int j = 0;
  for (; j + 32 <= n; j += 32) {
    a0 = _mm512_fmadd_ps(load16(w + j), _mm512_loadu_ps(x + j), a0);
    a1 = _mm512_fmadd_ps(load16(w + j + 16), _mm512_loadu_ps(x + j + 16), a1);
  }
  for (; j + 16 <= n; j += 16) a0 = _mm512_fmadd_ps(load16(w + j), _mm512_loadu_ps(x + j), a0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; j < n; j++) s += widen(w[j]) * x[j];
  return s;
}

__attribute__((target("avx2,fma"))) inline __m256 load8(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

__attribute__((target("avx2,fma"))) float dotAvx2(const uint16_t* w, const float* x, int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int j = 0;
  for (; j + 16 <= n; j += 16) {
    a0 = _mm256_fmadd_ps(load8(w + j), _mm256_loadu_ps(x + j), a0);
    a1 = _mm256_fmadd_ps(load8(w + j + 8), _mm256_loadu_ps(x + j + 8), a1);
  }
  for (; j + 8 <= n; j += 8) a0 = _mm256_fmadd_ps(load8(w + j), _mm256_loadu_ps(x + j), a0);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(a0, a1));
  float s = 0;
  for (float v : lanes) s += v;
  for (; j < n; j++) s += widen(w[j]) * x[j];
  return s;
}
#endif

using Dot = float (*)(const uint16_t*, const float*, int);

/**
 * The widest dot product this CPU runs, chosen once; CORPUS_LAB_BF16_DOT=avx2 or portable picks a
 * narrower one (tests run every path on one machine).
 */
Dot dot() {
  static const Dot chosen = [] {
    const char* asked = std::getenv("CORPUS_LAB_BF16_DOT");
    const std::string want = asked ? asked : "";
    if (want == "portable") return dotPortable;
#if defined(__x86_64__)
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (want == "avx2") return avx2 ? dotAvx2 : dotPortable;
    return __builtin_cpu_supports("avx512f") ? dotAvx512 : avx2 ? dotAvx2 : dotPortable;
#else
    return dotPortable;
#endif
  }();
  return chosen;
}

/**
 * A block of `size` rows or columns of W for the pool: about `perThread` blocks a thread, as many
 * blocks as a multiple of the thread count (9 equal blocks on 2 threads take as long as 10), each
 * a multiple of 32 columns (the SGEMM's tile width) between `least` and `most` where one fits.
 */
int balancedBlock(int size, int perThread, int least, int most) {
  const int threads = kernels::threads();
  const auto blockOf = [&](int blocks) { return ((size + blocks - 1) / blocks + 31) / 32 * 32; };
  const auto balanced = [&](int block) { return ((size + block - 1) / block) % threads == 0; };
  for (int j = perThread; j <= 4 * perThread; j++) {
    const int block = blockOf(j * threads);
    if (block < least) break;
    if (block <= most && balanced(block)) return block;
  }
  for (int j = perThread - 1; j >= 1; j--) {
    const int block = blockOf(j * threads);
    if (block >= least && block <= most && balanced(block)) return block;
  }
  return std::clamp(blockOf(perThread * threads), std::min(least, size), most);
}

}  // namespace

void widenRange(const uint16_t* from, long count, float* to) {
#pragma omp simd
  for (long i = 0; i < count; i++) to[i] = widen(from[i]);
}

void matMulTransposedB(const float* x, const uint16_t* w, float* y, int n, int in, int out, float beta) {
  if (n == 1) {
    if (beta == 0.0f) std::fill(y, y + out, 0.0f);
    gemvRows(1, &w, &out, in, x, &y);
    return;
  }
  // A block of rows per thread where it fits kMaxWidened (BLAS is fastest on wide products).
  const int block = balancedBlock(out, 1, kBlock, int(std::max<long>(kBlock, kMaxWidened / in)));
  const int blocks = (out + block - 1) / block;
  kernels::parallel(blocks, [&](int b) {
    const int from = b * block, rows = std::min(block, out - from);
    float* widened = scratch(size_t(rows) * in);
    widenRange(w + long(from) * in, long(rows) * in, widened);
    gemm::sgemm(false, true, n, rows, in, 1.0f, x, in, widened, in, beta, y + from, out);
  });
}

void matMul(const float* dy, const uint16_t* w, float* dx, int n, int in, int out, float beta) {
  // A block of columns per thread where it fits kMaxWidened: dy is read once per block.
  const int block = balancedBlock(in, 1, kBlock, int(std::max<long>(kBlock, kMaxWidened / out)));
  const int blocks = (in + block - 1) / block;
  kernels::parallel(blocks, [&](int b) {
    const int from = b * block, cols = std::min(block, in - from);
    float* widened = scratch(size_t(out) * cols);
    for (long r = 0; r < out; r++) widenRange(w + r * in + from, cols, widened + r * cols);
    gemm::sgemm(false, false, n, cols, out, 1.0f, dy, out, widened, cols, beta, dx + from, in);
  });
}

void gemvRows(int count, const uint16_t* const* a, const int* rows, int n, const float* x, float* const* y) {
  struct Chunk {
    int matrix, from, size;
  };
  long total = 0;
  for (int i = 0; i < count; i++) total += rows[i];
  // A few chunks per thread, so a thread the OS has paused holds up little of the step.
  const int step = std::max<int>(16, int((total / (kernels::threads() * 4) + 15) / 16 * 16));
  std::vector<Chunk> chunks;
  for (int i = 0; i < count; i++)
    for (int from = 0; from < rows[i]; from += step) chunks.push_back({i, from, std::min(step, rows[i] - from)});
  const Dot product = dot();
  kernels::parallel(int(chunks.size()), [&](int c) {
    const Chunk& k = chunks[c];
    const uint16_t* row = a[k.matrix] + long(k.from) * n;
    float* out = y[k.matrix] + k.from;
    for (int r = 0; r < k.size; r++, row += n) out[r] += product(row, x, n);
  });
}

void embedding(const uint16_t* table, const int32_t* ids, float* out, int n, int c) {
  for (int i = 0; i < n; i++) widenRange(table + long(ids[i]) * c, c, out + long(i) * c);
}

}  // namespace bf16

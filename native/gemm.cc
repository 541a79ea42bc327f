#include "gemm.h"

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

namespace gemm {
namespace {

struct Choice {
  const Kernels* kernels;
  const char* name;
};

Choice choose() {
  const char* asked = std::getenv("CORPUS_LAB_SIMD");
  const std::string want = asked ? asked : "";
#if defined(__x86_64__)
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  if (want == "generic") return {&generic::kernels, "SSE2"};
  if (avx512 && want != "avx2") return {&avx512::kernels, "AVX-512"};
  if (avx2) return {&avx2::kernels, "AVX2"};
  return {&generic::kernels, "SSE2"};
#elif defined(__aarch64__)
  return {&generic::kernels, "NEON"};
#else
  return {&generic::kernels, "portable"};
#endif
}

const Choice& chosen() {
  static const Choice c = choose();
  return c;
}

/** This thread's packed panels, 64-byte aligned, kept between calls (fresh ones would cost their page faults each time). */
float* panels(long floats) {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<float, Free> buffer;
  thread_local long size = 0;
  if (size < floats) {
    buffer.reset(static_cast<float*>(std::aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64)));
    if (!buffer) throw std::bad_alloc();
    size = floats;
  }
  return buffer.get();
}

}  // namespace

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  const Kernels& kernels = *chosen().kernels;
  float* packed = panels(kernels.packedA + kernels.packedB);
  kernels.sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packed, packed + kernels.packedA);
}

void sgemv(bool ta, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y) {
  chosen().kernels->sgemv(ta, m, n, alpha, a, lda, x, beta, y);
}

const char* simd() { return chosen().name; }

}  // namespace gemm

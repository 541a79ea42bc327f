// Our own single-precision matrix products (no system BLAS): row-major C = alpha·op(A)·op(B) + beta·C
// and y = alpha·op(A)·x + beta·y, on one thread (kernels.cc splits them across the pool). The
// kernels for AVX-512, AVX2 + FMA and plain 128-bit vectors (SSE2, or NEON on arm64) are chosen
// when first used, by what the CPU has, or by CORPUS_LAB_SIMD=avx512|avx2|generic (never above it).
#pragma once

namespace gemm {

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
/** y [m] = alpha·A·x + beta·y, or y [n] = alpha·Aᵀ·x + beta·y with `ta`, for A [m, n]; beta 0 never reads y. */
void sgemv(bool ta, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y);
/** The kernels in use: "AVX-512", "AVX2", "SSE2" (x86's generic), "NEON" (arm64's) or "portable". */
const char* simd();

/** One instruction set's kernels, with the packed panels' sizes (floats) they need. */
struct Kernels {
  long packedA, packedB;
  void (*sgemm)(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc,
                float* packedA, float* packedB);
  void (*sgemv)(bool ta, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y);
};
namespace generic {
extern const Kernels kernels;
}
#if defined(__x86_64__)
namespace avx2 {
extern const Kernels kernels;
}
namespace avx512 {
extern const Kernels kernels;
}
#endif

}  // namespace gemm

// The portable kernels on 128-bit vectors: SSE2 on any x86-64 (16 registers: tiles of 6 × 2
// vectors of 4), NEON on arm64 (32 registers: tiles of 8 × 3 vectors of 4).
#include "gemm.h"

#define GEMM_VECTOR_BYTES 16
#if defined(__aarch64__)
#define GEMM_MR 8
#define GEMM_NV 3
#else
#define GEMM_MR 6
#define GEMM_NV 2
#endif
namespace gemm::generic {
#include "gemm-kernel.h"
}

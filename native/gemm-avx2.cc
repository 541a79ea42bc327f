// The AVX2 + FMA kernels (built with -mavx2 -mfma): tiles of 6 rows × 2 vectors of 8 (12 of the 16 registers).
#include "gemm.h"

#define GEMM_VECTOR_BYTES 32
#define GEMM_MR 6
#define GEMM_NV 2
namespace gemm::avx2 {
#include "gemm-kernel.h"
}

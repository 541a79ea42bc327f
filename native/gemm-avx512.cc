// The AVX-512 kernels (built with -mavx512f -mfma): tiles of 12 rows × 2 vectors of 16 (24 of the 32 registers).
#include "gemm.h"

#define GEMM_VECTOR_BYTES 64
#define GEMM_MR 12
#define GEMM_NV 2
namespace gemm::avx512 {
#include "gemm-kernel.h"
}

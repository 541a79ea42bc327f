// Matrices held as bfloat16 (a float32's top 16 bits): a frozen BF16 model's weights, in half the
// memory of float32. Each product widens them to float32 (exactly) in registers or per block, so
// its results are those of the widened float32 matrix up to the order of the sums.
#pragma once
#include <cstdint>
#include <cstring>

namespace bf16 {

inline float widen(uint16_t bits) {
  const uint32_t u = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/** to [count] = from [count] widened, exactly. */
void widenRange(const uint16_t* from, long count, float* to);
/** y [n, out] = beta·y + x [n, in]·Wᵀ for W [out, in] (nn.Linear's layout). */
void matMulTransposedB(const float* x, const uint16_t* w, float* y, int n, int in, int out, float beta);
/** dx [n, in] = beta·dx + dy [n, out]·W for W [out, in]: the input's gradient of x·Wᵀ. */
void matMul(const float* dy, const uint16_t* w, float* dx, int n, int in, int out, float beta = 0.0f);
/** y_i += A_i·x for `count` matrices A_i [rows_i, n] of one input x [n], as kernels::gemvRows. */
void gemvRows(int count, const uint16_t* const* a, const int* rows, int n, const float* x, float* const* y);
/** Rows `ids` [n] of table [vocab, c] into out [n, c], widened (ids checked by the caller). */
void embedding(const uint16_t* table, const int32_t* ids, float* out, int n, int c);

}  // namespace bf16

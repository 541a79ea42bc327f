#include "linear-cross-entropy.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "bf16.h"
#include "kernels.h"

namespace lce {
namespace {

/** This thread's buffer of at least `floats` floats, kept between calls (a fresh 32 MB of logits each step costs its page faults). */
float* scratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

}  // namespace

float forwardBackward(const float* x, Head w, const int32_t* targets, int n, int width, int vocab, int maxRows, float* dx, float* dW) {
  // Only rows with a target are multiplied: masked prompts cost nothing.
  std::vector<int> trained;
  trained.reserve(n);
  for (int r = 0; r < n; r++)
    if (targets[r] >= 0) trained.push_back(r);
  const int count = int(trained.size());
  if (dx) std::fill(dx, dx + long(n) * width, 0.0f);
  if (dW && count == 0) std::fill(dW, dW + long(vocab) * width, 0.0f);
  if (count == 0) return 0.0f;

  // Chunks of equal size: a last chunk of a few rows would read the whole head for little work.
  const int chunks = (count + maxRows - 1) / maxRows;
  const int rows = (count + chunks - 1) / chunks;
  float* logits = scratch(size_t(rows) * vocab + size_t(rows) * (2 * width + 1) + rows);
  float* xc = logits + size_t(rows) * vocab;
  float* dxc = xc + size_t(rows) * width;
  float* lse = dxc + size_t(rows) * width;
  std::vector<int32_t> tc(rows);
  double sum = 0;
  for (int c = 0; c < chunks; c++) {
    const int from = c * rows, size = std::min(rows, count - from);
    for (int i = 0; i < size; i++) {
      const int r = trained[from + i];
      std::memcpy(xc + long(i) * width, x + long(r) * width, sizeof(float) * width);
      tc[i] = targets[r];
    }
    if (w.bf16) bf16::matMulTransposedB(xc, w.bf16, logits, size, width, vocab, 0.0f);
    else kernels::gemm(false, true, size, vocab, width, 1.0f, xc, width, w.f32, width, 0.0f, logits, vocab);
    // The chunk's mean (all its targets are trained) weighs in by its share of the trained tokens.
    sum += double(kernels::crossEntropyForward(logits, tc.data(), lse, size, vocab)) * size;
    if (!dx && !dW) continue;
    // g = (softmax − onehot) / count, in place of the logits.
    kernels::crossEntropyBackward(logits, tc.data(), lse, float(size) / float(count), logits, size, vocab);
    if (dx) {
      if (w.bf16) bf16::matMul(logits, w.bf16, dxc, size, width, vocab);
      else kernels::gemm(false, false, size, width, vocab, 1.0f, logits, vocab, w.f32, width, 0.0f, dxc, width);
      for (int i = 0; i < size; i++) std::memcpy(dx + long(trained[from + i]) * width, dxc + long(i) * width, sizeof(float) * width);
    }
    if (dW) kernels::gemm(true, false, vocab, width, size, 1.0f, logits, vocab, xc, width, c == 0 ? 0.0f : 1.0f, dW, width);
  }
  return float(sum / count);
}

}  // namespace lce

#include "linear-cross-entropy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "bf16.h"
#include "gemm.h"
#include "kernels.h"

namespace lce {
namespace {

/** This thread's buffer of at least `floats` floats, kept between calls (a fresh 32 MB of logits each step costs its page faults). */
float* scratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

/** Rows `rows` [count] of m [?, width] into out [count, width]. */
void gather(const float* m, const int* rows, int count, int width, float* out) {
  for (int i = 0; i < count; i++) std::memcpy(out + long(i) * width, m + long(rows[i]) * width, sizeof(float) * width);
}

/**
 * A trainable head's loss and gradients: each chunk's logits are held whole, since dW needs the
 * finished softmax. g = (softmax − onehot) / count replaces them; dx = g·W, dW += gᵀ·x (beta 1).
 */
double withHeadGradient(const float* xc, const int32_t* tc, const float* w, int count, int width, int vocab, int maxRows, float* dxc, float* dW) {
  // Chunks of equal size: a last chunk of a few rows would read the whole head for little work.
  const int chunks = (count + maxRows - 1) / maxRows;
  const int rows = (count + chunks - 1) / chunks;
  float* logits = scratch(size_t(rows) * vocab + rows);
  float* lse = logits + size_t(rows) * vocab;
  double sum = 0;
  for (int c = 0; c < chunks; c++) {
    const int from = c * rows, size = std::min(rows, count - from);
    const float* x = xc + long(from) * width;
    kernels::gemm(false, true, size, vocab, width, 1.0f, x, width, w, width, 0.0f, logits, vocab);
    sum += double(kernels::crossEntropyForward(logits, tc + from, lse, size, vocab)) * size;
    kernels::crossEntropyBackward(logits, tc + from, lse, float(size) / float(count), logits, size, vocab);
    if (dxc) kernels::gemm(false, false, size, width, vocab, 1.0f, logits, vocab, w, width, 0.0f, dxc + long(from) * width, width);
    kernels::gemm(true, false, vocab, width, size, 1.0f, logits, vocab, x, width, c == 0 ? 0.0f : 1.0f, dW, width);
  }
  return sum;
}

/** One task's running softmax over its part of the vocabulary, per row: max, Σ exp(l − max), Σ exp(l − max)·W_v, and the target's logit. */
struct Running {
  std::vector<float> max, sum, target, acc;
};

/**
 * A frozen head (or no gradient): one pass over W per chunk of rows, a tile of the vocabulary at
 * a time (widened from BF16 there, in cache), with the softmax kept running as flash attention
 * does, so no logits are held beyond a tile: dx = (Σ_v softmax_v·W_v − W_target) / count.
 */
double frozenHead(const float* xc, const int32_t* tc, Head w, int count, int width, int vocab, long budget, float* dxc) {
  // Tiles of ~1 MB of W (widened), a few tasks per thread each with its own running state.
  const int tile = std::min(vocab, std::clamp((1 << 18) / width / 16 * 16, 16, 1024));
  const int tiles = (vocab + tile - 1) / tile;
  const int tasks = std::min(tiles, 4 * kernels::threads());
  const int maxRows = int(std::clamp<long>(budget / (long(tasks) * (tile + (dxc ? width : 0))), 1, count));
  std::vector<Running> state(tasks);
  double sum = 0;
  for (int from = 0; from < count; from += maxRows) {
    const int rows = std::min(maxRows, count - from);
    const float* x = xc + long(from) * width;
    const int32_t* t = tc + from;
    kernels::parallel(tasks, [&](int k) {
      Running& s = state[k];
      s.max.assign(rows, -std::numeric_limits<float>::infinity());
      s.sum.assign(rows, 0.0f);
      s.target.assign(rows, 0.0f);
      if (dxc) s.acc.assign(size_t(rows) * width, 0.0f);
      float* logits = scratch(size_t(tile) * rows + (w.bf16 ? size_t(tile) * width : 0));
      float* widened = logits + size_t(tile) * rows;
      for (int i = long(tiles) * k / tasks; i < long(tiles) * (k + 1) / tasks; i++) {
        const int v0 = i * tile, size = std::min(tile, vocab - v0);
        const float* wt = w.f32 ? w.f32 + long(v0) * width : widened;
        if (w.bf16) bf16::widenRange(w.bf16 + long(v0) * width, long(size) * width, widened);
        gemm::sgemm(false, true, rows, size, width, 1.0f, x, width, wt, width, 0.0f, logits, size);
        for (int r = 0; r < rows; r++) {
          float* l = logits + long(r) * size;
          if (t[r] >= v0 && t[r] < v0 + size) s.target[r] = l[t[r] - v0];
          float mx = s.max[r];
#pragma omp simd reduction(max : mx)
          for (int j = 0; j < size; j++) mx = l[j] > mx ? l[j] : mx;
          if (mx > s.max[r]) {
            // The state so far was relative to a smaller max: scaled down to the new one.
            const float scale = std::exp(s.max[r] - mx);
            s.sum[r] *= scale;
            if (dxc)
              for (int j = 0; j < width; j++) s.acc[long(r) * width + j] *= scale;
            s.max[r] = mx;
          }
#pragma omp simd
          for (int j = 0; j < size; j++) l[j] -= mx;
          kernels::expArray(l, l, size);
          float total = 0;
#pragma omp simd reduction(+ : total)
          for (int j = 0; j < size; j++) total += l[j];
          s.sum[r] += total;
        }
        if (dxc) gemm::sgemm(false, false, rows, width, size, 1.0f, logits, size, wt, width, 1.0f, s.acc.data(), width);
      }
    });
    // The tasks' states merged into each row's log-sum-exp, loss and gradient.
    std::vector<float> row(width);
    for (int r = 0; r < rows; r++) {
      float mx = -std::numeric_limits<float>::infinity();
      for (const Running& s : state) mx = std::max(mx, s.max[r]);
      double total = 0;
      float target = 0;
      if (dxc) std::fill(row.begin(), row.end(), 0.0f);
      for (int k = 0; k < tasks; k++) {
        const Running& s = state[k];
        const float scale = std::exp(s.max[r] - mx);
        total += double(s.sum[r]) * scale;
        if (t[r] >= long(tile) * (long(tiles) * k / tasks) && t[r] < long(tile) * (long(tiles) * (k + 1) / tasks)) target = s.target[r];
        if (dxc)
          for (int j = 0; j < width; j++) row[j] += s.acc[long(r) * width + j] * scale;
      }
      sum += double(mx) + std::log(total) - target;
      if (!dxc) continue;
      // dx = (softmax·W − W_target) / count.
      float* d = dxc + long(from + r) * width;
      const float* wTarget = w.f32 ? w.f32 + long(t[r]) * width : nullptr;
      if (w.bf16) bf16::widenRange(w.bf16 + long(t[r]) * width, width, d);
      const float byTotal = float(1.0 / total), byCount = 1.0f / float(count);
      for (int j = 0; j < width; j++) d[j] = (row[j] * byTotal - (wTarget ? wTarget[j] : d[j])) * byCount;
    }
  }
  return sum;
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

  std::vector<float> xc(size_t(count) * width), dxc(dx ? size_t(count) * width : 0);
  std::vector<int32_t> tc(count);
  gather(x, trained.data(), count, width, xc.data());
  for (int i = 0; i < count; i++) tc[i] = targets[trained[i]];
  float* dxOut = dx ? dxc.data() : nullptr;
  const double sum = dW ? withHeadGradient(xc.data(), tc.data(), w.f32, count, width, vocab, maxRows, dxOut, dW)
                        : frozenHead(xc.data(), tc.data(), w, count, width, vocab, long(maxRows) * vocab, dxOut);
  if (dx)
    for (int i = 0; i < count; i++) std::memcpy(dx + long(trained[i]) * width, dxc.data() + long(i) * width, sizeof(float) * width);
  return float(sum / count);
}

}  // namespace lce

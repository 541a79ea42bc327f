#include "decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"

// The hot loops get an AVX2+FMA copy picked at load time (as in kernels.cc).
#if defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT
#endif

namespace decode {
namespace {

// Products go through kernels::gemm/gemv, so the thread's pool splits those above its threshold
// (of the tiny preset, the prefill's projections only). A 64-token prefill of the tiny preset,
// measured under a load of ~16: p50 2.1 ms on 2 threads, 6.9 ms on 1 (1.7–1.9 ms either way at best).

/** y [t, out] = x [t, in] · W + b, or y += x · W + b with `accumulate` (the residual). */
void linear(const Linear& l, const float* x, float* y, int t, int in, int out, bool accumulate) {
  for (int r = 0; r < t; r++) {
    float* row = y + long(r) * out;
    if (accumulate) {
      for (int j = 0; j < out; j++) row[j] += l.bias[j];
    } else {
      std::memcpy(row, l.bias, sizeof(float) * out);
    }
  }
  if (t == 1) kernels::gemv(true, in, out, l.weight, out, x, 1.0f, y);
  else kernels::gemm(false, false, t, out, in, 1.0f, x, in, l.weight, out, 1.0f, y, out);
}

/** Layer norm (ε 1e-5, as the model's) or Dynamic Tanh γ·tanh(α·x) + β of rows x [t, width]. */
void norm(const Shape& s, const Norm& n, const float* x, float* y, int t, float* stats) {
  if (!s.dyt) {
    kernels::layerNormForward(x, n.weight, n.bias, y, stats, stats + t, t, s.width, 1e-5f);
    return;
  }
  const float alpha = n.alpha[0];
  for (int r = 0; r < t; r++)
    for (int j = 0; j < s.width; j++) y[long(r) * s.width + j] = std::tanh(alpha * x[long(r) * s.width + j]) * n.weight[j] + n.bias[j];
}

/** Softmax of each query's row over the keys it may see (query i is at position start + i); zeros after. */
void causalSoftmax(float* scores, int t, int start) {
  const int total = start + t;
  for (int i = 0; i < t; i++) {
    float* row = scores + long(i) * total;
    const int seen = start + i + 1;
    float mx = row[0];
    for (int j = 1; j < seen; j++) mx = std::max(mx, row[j]);
    float sum = 0;
    for (int j = 0; j < seen; j++) {
      row[j] = std::exp(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < seen; j++) row[j] *= inv;
    for (int j = seen; j < total; j++) row[j] = 0;
  }
}

/** One query [d] over `total` cached keys and values (row stride c): probabilities in scores, the mix in out [d]. */
HOT void singleQuery(const float* q, const float* keys, const float* values, float* out, float* scores, int total, int c, int d, float scale) {
  float mx = -INFINITY;
  for (int j = 0; j < total; j++) {
    const float* k = keys + long(j) * c;
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int i = 0; i < d; i++) dot += q[i] * k[i];
    scores[j] = dot * scale;
    mx = std::max(mx, scores[j]);
  }
  float sum = 0;
  for (int j = 0; j < total; j++) sum += (scores[j] = std::exp(scores[j] - mx));
  const float inv = 1.0f / sum;
  std::fill(out, out + d, 0.0f);
  for (int j = 0; j < total; j++) {
    const float p = scores[j] * inv;
    const float* v = values + long(j) * c;
#pragma omp simd
    for (int i = 0; i < d; i++) out[i] += p * v[i];
  }
}

}  // namespace

void cachedAttention(const float* q, int ldq, const float* keys, const float* values, int ldkv, float* out, int ldo, int heads, int group, int d, int t,
                     int start, float* scores) {
  const int total = start + t;
  const float scale = 1.0f / std::sqrt(float(d));
  for (int h = 0; h < heads; h++) {
    const float* k = keys + (h / group) * d;
    const float* v = values + (h / group) * d;
    if (t == 1) {
      singleQuery(q + h * d, k, v, out + h * d, scores, total, ldkv, d, scale);
      continue;
    }
    kernels::gemm(false, true, t, total, d, scale, q + h * d, ldq, k, ldkv, 0.0f, scores, total);
    causalSoftmax(scores, t, start);
    kernels::gemm(false, false, t, d, total, 1.0f, scores, total, v, ldkv, 0.0f, out + h * d, ldo);
  }
}

void forward(const Shape& s, const Weights& w, const int32_t* ids, int t, int start, float* cache, float* logits) {
  const int c = s.width, total = start + t;
  std::vector<float> scratch(size_t(t) * (c * 3 + 3 * c + 4 * c + total + 2));
  float* x = scratch.data();           // the residual stream [t, c]
  float* normed = x + long(t) * c;     // [t, c]
  float* att = normed + long(t) * c;   // [t, c]
  float* qkv = att + long(t) * c;      // [t, 3c]
  float* fc = qkv + long(t) * 3 * c;   // [t, 4c]
  float* scores = fc + long(t) * 4 * c;  // [t, start + t]
  float* stats = scores + long(t) * total;  // a layer norm's mean and 1/σ [2t]

  const float embedScale = w.embedScale ? w.embedScale[0] : 1.0f;
  for (int i = 0; i < t; i++) {
    const float* tok = w.wte + long(ids[i]) * c;
    const float* pos = w.wpe + long(start + i) * c;
    for (int j = 0; j < c; j++) x[long(i) * c + j] = (tok[j] + pos[j]) * embedScale;
  }
  for (int l = 0; l < s.layers; l++) {
    const Block& b = w.blocks[l];
    float* keys = cache + long(2 * l) * s.context * c;
    float* values = keys + long(s.context) * c;
    norm(s, b.ln1, x, normed, t, stats);
    linear(b.attn, normed, qkv, t, c, 3 * c, false);
    for (int i = 0; i < t; i++) {
      std::memcpy(keys + long(start + i) * c, qkv + long(i) * 3 * c + c, sizeof(float) * c);
      std::memcpy(values + long(start + i) * c, qkv + long(i) * 3 * c + 2 * c, sizeof(float) * c);
    }
    cachedAttention(qkv, 3 * c, keys, values, c, att, c, s.heads, 1, c / s.heads, t, start, scores);
    linear(b.proj, att, x, t, c, c, true);
    norm(s, b.ln2, x, normed, t, stats);
    linear(b.fc, normed, fc, t, c, 4 * c, false);
    kernels::geluForward(fc, fc, long(t) * 4 * c);
    linear(b.mlpProj, fc, x, t, 4 * c, c, true);
  }
  // Only the last position's logits are asked for: the final norm and the tied head on its row.
  norm(s, w.lnf, x + long(t - 1) * c, normed, 1, stats);
  kernels::gemv(false, s.vocab, c, w.wte, c, normed, 0.0f, logits);
}

}  // namespace decode

#include "llama-decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "bf16.h"
#include "decode.h"
#include "kernels.h"

namespace llama_decode {
namespace {

/** One linear layer of x [t, in]: weight [out, in] (nn.Linear), an optional bias, its output y [t, out]. */
struct Projection {
  Matrix weight;
  const float* bias;
  float* y;
  int out;
};

/**
 * y = x·Wᵀ + bias for each projection of the same input x [t, in], or y += x·Wᵀ with `accumulate`
 * (the residual). A generation step's projections share one dispatch to the pool.
 */
void project(const float* x, int t, int in, std::initializer_list<Projection> projections, bool accumulate, bool bf16) {
  for (const Projection& p : projections) {
    if (accumulate) break;
    for (int r = 0; r < t; r++) {
      float* row = p.y + long(r) * p.out;
      if (p.bias) std::memcpy(row, p.bias, sizeof(float) * p.out);
      else std::memset(row, 0, sizeof(float) * p.out);
    }
  }
  if (t == 1) {
    std::vector<Matrix> a;
    std::vector<int> rows;
    std::vector<float*> y;
    for (const Projection& p : projections) {
      a.push_back(p.weight);
      rows.push_back(p.out);
      y.push_back(p.y);
    }
    if (bf16) bf16::gemvRows(int(a.size()), reinterpret_cast<const uint16_t* const*>(a.data()), rows.data(), in, x, y.data());
    else kernels::gemvRows(int(a.size()), reinterpret_cast<const float* const*>(a.data()), rows.data(), in, x, y.data());
    return;
  }
  for (const Projection& p : projections) {
    if (bf16) bf16::matMulTransposedB(x, static_cast<const uint16_t*>(p.weight), p.y, t, in, p.out, 1.0f);
    else kernels::gemm(false, true, t, p.out, in, 1.0f, x, in, static_cast<const float*>(p.weight), in, 1.0f, p.y, p.out);
  }
}

/** cos and sin [t, half] of positions start … start+t−1, as core/rope.ts rotaryTables (angles in float32, as Hugging Face). */
void rotaryTables(const double* inverse, int half, int start, int t, float* cos, float* sin) {
  for (int p = 0; p < t; p++)
    for (int i = 0; i < half; i++) {
      const float angle = float(start + p) * float(inverse[i]);
      cos[long(p) * half + i] = float(std::cos(double(angle)));
      sin[long(p) * half + i] = float(std::sin(double(angle)));
    }
}

/**
 * A long prompt goes through in chunks of this many tokens, each after those before it in the
 * cache, so the activations and scores held at once stay a few MB (an 8,192-token prompt of
 * Qwen2.5-0.5B's shape in one piece would hold ~700 MB).
 */
constexpr int kChunk = 256;

/** forward() of at most kChunk tokens; the logits only when asked for (the prompt's last chunk). */
void forwardChunk(const Shape& s, const Weights& w, const double* inverse, const int32_t* ids, int t, int start, float* cache, float* logits) {
  const int c = s.width, d = s.headDim, half = d / 2, qw = s.heads * d, kvw = s.kvHeads * d, f = s.mlpWidth, total = start + t;
  std::vector<float> scratch(size_t(t) * (2 * c + 2 * qw + kvw + 2 * f + total + d));
  float* x = scratch.data();              // the residual stream [t, c]
  float* normed = x + long(t) * c;        // [t, c]
  float* q = normed + long(t) * c;        // [t, heads·d]
  float* att = q + long(t) * qw;          // [t, heads·d]
  float* k = att + long(t) * qw;          // [t, kvHeads·d]
  float* gate = k + long(t) * kvw;        // [t, f]
  float* up = gate + long(t) * f;         // [t, f]
  float* scores = up + long(t) * f;       // [t, start + t]
  float* cos = scores + long(t) * total;  // [t, half]
  float* sin = cos + long(t) * half;      // [t, half]
  std::vector<float> rstd(size_t(t) * s.heads);

  rotaryTables(inverse, half, start, t, cos, sin);
  if (s.bf16) bf16::embedding(static_cast<const uint16_t*>(w.embedding), ids, x, t, c);
  else
    for (int i = 0; i < t; i++) std::memcpy(x + long(i) * c, static_cast<const float*>(w.embedding) + long(ids[i]) * c, sizeof(float) * c);
  for (int l = 0; l < s.layers; l++) {
    const Block& b = w.blocks[l];
    float* keys = cache + long(2 * l) * s.context * kvw;
    float* values = keys + long(s.context) * kvw;
    kernels::rmsNormForward(x, b.attentionNorm, normed, rstd.data(), t, c, s.eps);
    project(normed, t, c, {{b.q, b.qBias, q, qw}, {b.k, b.kBias, k, kvw}, {b.v, b.vBias, values + long(start) * kvw, kvw}}, false, s.bf16);
    if (b.qNorm) {
      kernels::rmsNormForward(q, b.qNorm, q, rstd.data(), t * s.heads, d, s.eps);
      kernels::rmsNormForward(k, b.kNorm, k, rstd.data(), t * s.kvHeads, d, s.eps);
    }
    kernels::rotary(q, cos, sin, q, long(t) * s.heads, t, s.heads, half, false);
    kernels::rotary(k, cos, sin, keys + long(start) * kvw, long(t) * s.kvHeads, t, s.kvHeads, half, false);
    decode::cachedAttention(q, qw, keys, values, kvw, att, qw, s.heads, s.heads / s.kvHeads, d, t, start, scores);
    project(att, t, qw, {{b.o, nullptr, x, c}}, true, s.bf16);
    kernels::rmsNormForward(x, b.mlpNorm, normed, rstd.data(), t, c, s.eps);
    project(normed, t, c, {{b.gate, nullptr, gate, f}, {b.up, nullptr, up, f}}, false, s.bf16);
    kernels::swigluForward(gate, up, gate, long(t) * f);
    project(gate, t, f, {{b.down, nullptr, x, c}}, true, s.bf16);
  }
  if (!logits) return;
  // Only the last position's logits are asked for: the final norm and the head on its row.
  kernels::rmsNormForward(x + long(t - 1) * c, w.finalNorm, normed, rstd.data(), 1, c, s.eps);
  project(normed, 1, c, {{w.head, nullptr, logits, s.vocab}}, false, s.bf16);
}

}  // namespace

void forward(const Shape& s, const Weights& w, const double* inverse, const int32_t* ids, int t, int start, float* cache, float* logits) {
  for (int from = 0; from < t; from += kChunk) {
    const int n = std::min(kChunk, t - from);
    forwardChunk(s, w, inverse, ids + from, n, start + from, cache, from + n == t ? logits : nullptr);
  }
}

}  // namespace llama_decode

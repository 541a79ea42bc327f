#include "llama-block.h"

#include <cstring>
#include <vector>

#include "kernels.h"

namespace llama_block {
namespace {

/** The block's sizes: n tokens, q and kv the projections' widths. */
struct Sizes {
  long n, c, f, q, kv, qRows, kvRows;
  explicit Sizes(const Shape& s)
      : n(long(s.b) * s.t),
        c(s.width),
        f(s.mlpWidth),
        q(long(s.heads) * s.headDim),
        kv(long(s.kvHeads) * s.headDim),
        qRows(n * s.heads),
        kvRows(n * s.kvHeads) {}
};

/** Where each kept activation lies in `saved` (null for a null `at`): q and k rotated (and before their norm, with qkNorm). */
struct Saved {
  float *rstd1, *normed1, *qRaw, *rstdQ, *kRaw, *rstdK, *q, *k, *v, *probs, *att, *x1, *rstd2, *normed2, *gate, *up, *act;
  long floats = 0;

  Saved(const Shape& s, float* at) {
    const Sizes z(s);
    const auto take = [&](long size) {
      float* p = at ? at + floats : nullptr;
      floats += size;
      return p;
    };
    const bool norms = s.qkNorm;
    rstd1 = take(z.n);
    normed1 = take(z.n * z.c);
    qRaw = take(norms ? z.n * z.q : 0);
    rstdQ = take(norms ? z.qRows : 0);
    kRaw = take(norms ? z.n * z.kv : 0);
    rstdK = take(norms ? z.kvRows : 0);
    q = take(z.n * z.q);
    k = take(z.n * z.kv);
    v = take(z.n * z.kv);
    probs = take(long(s.b) * s.heads * s.t * s.t);
    att = take(z.n * z.q);
    x1 = take(z.n * z.c);
    rstd2 = take(z.n);
    normed2 = take(z.n * z.c);
    gate = take(z.n * z.f);
    up = take(z.n * z.f);
    act = take(z.n * z.f);
  }
};

void addInto(float* y, const float* x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] += x[i];
}

/** y [n, out] = x [n, in]·Wᵀ for W [out, in] (nn.Linear), plus `bias` [out] when given. */
void project(const float* x, const float* w, const float* bias, float* y, long n, long in, long out) {
  if (bias)
    for (long r = 0; r < n; r++) std::memcpy(y + r * out, bias, sizeof(float) * out);
  kernels::gemm(false, true, int(n), int(out), int(in), 1.0f, x, int(in), w, int(in), bias ? 1.0f : 0.0f, y, int(out));
}

/**
 * The backward pass of project(): dW [out, in] = dyᵀ·x, the bias's gradient (when `dBias`), and
 * dx [n, in] = dy·W, added into dx when `accumulate`.
 */
void projectBackward(const float* x, const float* w, const float* dy, float* dx, bool accumulate, float* dw, float* dBias, long n, long in, long out) {
  kernels::gemm(true, false, int(out), int(in), int(n), 1.0f, dy, int(out), x, int(in), 0.0f, dw, int(in));
  if (dBias) kernels::columnSums(dy, dBias, int(n), int(out));
  kernels::gemm(false, false, int(n), int(in), int(out), 1.0f, dy, int(out), w, int(in), accumulate ? 1.0f : 0.0f, dx, int(in));
}

/** Scratch of each call's intermediate activations and gradients, kept per JS thread between steps. */
thread_local std::vector<float> scratch;

float* scratchFloats(long floats) {
  if (long(scratch.size()) < floats) scratch.resize(size_t(floats));
  return scratch.data();
}

}  // namespace

bool hasWeight(const Shape& s, int i) {
  if (i == QB || i == KB || i == VB) return s.qkvBias;
  if (i == QNorm || i == KNorm) return s.qkNorm;
  return i >= 0 && i < kWeights;
}

long weightFloats(const Shape& s, int i) {
  const Sizes z(s);
  switch (i) {
    case QW:
    case OW:
      return z.q * z.c;
    case KW:
    case VW:
      return z.kv * z.c;
    case QB:
      return z.q;
    case KB:
    case VB:
      return z.kv;
    case QNorm:
    case KNorm:
      return s.headDim;
    case GateW:
    case UpW:
    case DownW:
      return z.f * z.c;
    default:
      return z.c;
  }
}

long savedFloats(const Shape& s) { return Saved(s, nullptr).floats; }

void forward(const Shape& s, const float* x, const float* const* w, const float* cos, const float* sin, float* y, float* saved) {
  const Sizes z(s);
  const Saved k(s, saved);
  const int half = s.headDim / 2;
  kernels::rmsNormForward(x, w[AttnNorm], k.normed1, k.rstd1, int(z.n), int(z.c), s.eps);
  // q and k before their rotation: projected (then normed per head, Qwen3) into scratch.
  float* qPre = scratchFloats(z.n * (z.q + z.kv));
  float* kPre = qPre + z.n * z.q;
  project(k.normed1, w[QW], w[QB], s.qkNorm ? k.qRaw : qPre, z.n, z.c, z.q);
  project(k.normed1, w[KW], w[KB], s.qkNorm ? k.kRaw : kPre, z.n, z.c, z.kv);
  project(k.normed1, w[VW], w[VB], k.v, z.n, z.c, z.kv);
  if (s.qkNorm) {
    kernels::rmsNormForward(k.qRaw, w[QNorm], qPre, k.rstdQ, int(z.qRows), s.headDim, s.eps);
    kernels::rmsNormForward(k.kRaw, w[KNorm], kPre, k.rstdK, int(z.kvRows), s.headDim, s.eps);
  }
  kernels::rotary(qPre, cos, sin, k.q, z.qRows, s.t, s.heads, half, false);
  kernels::rotary(kPre, cos, sin, k.k, z.kvRows, s.t, s.kvHeads, half, false);
  kernels::groupedAttentionForward(k.q, k.k, k.v, k.att, k.probs, s.b, s.t, s.heads, s.kvHeads, s.headDim);
  project(k.att, w[OW], nullptr, k.x1, z.n, z.q, z.c);
  addInto(k.x1, x, z.n * z.c);
  kernels::rmsNormForward(k.x1, w[MlpNorm], k.normed2, k.rstd2, int(z.n), int(z.c), s.eps);
  project(k.normed2, w[GateW], nullptr, k.gate, z.n, z.c, z.f);
  project(k.normed2, w[UpW], nullptr, k.up, z.n, z.c, z.f);
  kernels::swigluForward(k.gate, k.up, k.act, z.n * z.f);
  project(k.act, w[DownW], nullptr, y, z.n, z.f, z.c);
  addInto(y, k.x1, z.n * z.c);
}

void backward(const Shape& s, const float* x, const float* const* w, const float* cos, const float* sin, const float* saved, const float* dy, float* dx,
              float* const* g) {
  const Sizes z(s);
  const Saved k(s, const_cast<float*>(saved));
  const int half = s.headDim / 2;
  const long nc = z.n * z.c, nq = z.n * z.q, nkv = z.n * z.kv;
  float* dAct = scratchFloats(3 * z.n * z.f + 2 * nc + 4 * nq + 4 * nkv);
  float* dGate = dAct + z.n * z.f;
  float* dUp = dGate + z.n * z.f;
  float* dNormed = dUp + z.n * z.f;  // [n, c]: a norm's output gradient
  float* dX1 = dNormed + nc;
  float* dAtt = dX1 + nc;
  float* dQ = dAtt + nq;  // rotated, then back (the norm's output), then the projection's output
  float* dQ2 = dQ + nq;
  float* dQ3 = dQ2 + nq;
  float* dK = dQ3 + nq;
  float* dK2 = dK + nkv;
  float* dK3 = dK2 + nkv;
  float* dV = dK3 + nkv;

  // MLP: y = x1 + down(silu(gate(normed2))·up(normed2)).
  projectBackward(k.act, w[DownW], dy, dAct, false, g[DownW], nullptr, z.n, z.f, z.c);
  kernels::swigluBackward(k.gate, k.up, dAct, dGate, dUp, z.n * z.f);
  projectBackward(k.normed2, w[GateW], dGate, dNormed, false, g[GateW], nullptr, z.n, z.c, z.f);
  projectBackward(k.normed2, w[UpW], dUp, dNormed, true, g[UpW], nullptr, z.n, z.c, z.f);
  kernels::rmsNormBackward(k.x1, w[MlpNorm], k.rstd2, dNormed, dX1, g[MlpNorm], int(z.n), int(z.c));
  addInto(dX1, dy, nc);

  // Attention: x1 = x + o(attention(rope(q), rope(k), v)) of normed1.
  projectBackward(k.att, w[OW], dX1, dAtt, false, g[OW], nullptr, z.n, z.q, z.c);
  kernels::groupedAttentionBackward(k.q, k.k, k.v, k.probs, dAtt, dQ, dK, dV, s.b, s.t, s.heads, s.kvHeads, s.headDim);
  kernels::rotary(dQ, cos, sin, dQ2, z.qRows, s.t, s.heads, half, true);
  kernels::rotary(dK, cos, sin, dK2, z.kvRows, s.t, s.kvHeads, half, true);
  float* dQProjected = dQ2;
  float* dKProjected = dK2;
  if (s.qkNorm) {
    kernels::rmsNormBackward(k.qRaw, w[QNorm], k.rstdQ, dQ2, dQ3, g[QNorm], int(z.qRows), s.headDim);
    kernels::rmsNormBackward(k.kRaw, w[KNorm], k.rstdK, dK2, dK3, g[KNorm], int(z.kvRows), s.headDim);
    dQProjected = dQ3;
    dKProjected = dK3;
  }
  projectBackward(k.normed1, w[QW], dQProjected, dNormed, false, g[QW], g[QB], z.n, z.c, z.q);
  projectBackward(k.normed1, w[KW], dKProjected, dNormed, true, g[KW], g[KB], z.n, z.c, z.kv);
  projectBackward(k.normed1, w[VW], dV, dNormed, true, g[VW], g[VB], z.n, z.c, z.kv);
  kernels::rmsNormBackward(x, w[AttnNorm], k.rstd1, dNormed, dx, g[AttnNorm], int(z.n), int(z.c));
  addInto(dx, dX1, nc);
}

}  // namespace llama_block

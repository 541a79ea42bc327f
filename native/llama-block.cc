#include "llama-block.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "bf16.h"
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
  /** Each adapted projection's (x·Aᵀ)ᵀ [r, n]. */
  float* downT[kProjections];
  long floats = 0;

  Saved(const Shape& s, float* at, const bool* adapted) {
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
    for (int p = 0; p < kProjections; p++) downT[p] = adapted[p] ? take(z.n * s.loraRank) : nullptr;
  }
};

void addInto(float* y, const float* x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] += x[i];
}

/** One projection: its weight W [out, in] (float32, or a frozen BF16 one), bias and LoRA adapter (A [r, in], B [out, r]) where it has them. */
struct Linear {
  const float* w;
  const float* bias;
  const float* a;
  const float* b;
  long in, out;
};

/** A second scratch, for one projection's temporaries in the backward pass. */
thread_local std::vector<float> projectionScratch;

/**
 * y [n, out] = x [n, in]·Wᵀ (+ bias) + scale·(x·Aᵀ)·Bᵀ, (x·Aᵀ)ᵀ = A·xᵀ [r, n] kept in `downT`.
 * The adapter's products of rank r are taken with r on the side of C's rows: as a column count
 * it would fill a fraction of the SGEMM's 32-column tiles (r = 8: a quarter), as a row count most
 * of its 12-row ones.
 */
void project(const Shape& s, const Linear& l, const float* x, float* y, float* downT, long n) {
  if (l.bias)
    for (long r = 0; r < n; r++) std::memcpy(y + r * l.out, l.bias, sizeof(float) * l.out);
  const float beta = l.bias ? 1.0f : 0.0f;
  if (s.bf16) bf16::matMulTransposedB(x, reinterpret_cast<const uint16_t*>(l.w), y, int(n), int(l.in), int(l.out), beta);
  else kernels::gemm(false, true, int(n), int(l.out), int(l.in), 1.0f, x, int(l.in), l.w, int(l.in), beta, y, int(l.out));
  if (!l.a) return;
  const int r = s.loraRank;
  kernels::gemm(false, true, r, int(n), int(l.in), 1.0f, l.a, int(l.in), x, int(l.in), 0.0f, downT, int(n));
  kernels::gemm(true, true, int(n), int(l.out), r, s.loraScale, downT, int(n), l.b, r, 1.0f, y, int(l.out));
}

/**
 * The backward pass of project(): dx [n, in] = dy·W + scale·(dy·B)·A, added into dx when
 * `accumulate`; dW [out, in] = dyᵀ·x and the bias's gradient where asked for (full training), and
 * the adapter's dA = scale·(dy·B)ᵀ·x, dB = scale·dyᵀ·down, rank r on the rows' side as in project().
 */
void projectBackward(const Shape& s, const Linear& l, const float* x, const float* downT, const float* dy, float* dx, bool accumulate, float* dw,
                     float* dBias, float* dA, float* dB, long n) {
  const int r = s.loraRank;
  const long scratchFloats = n * l.in + long(r) * (n + l.out);
  if (long(projectionScratch.size()) < scratchFloats) projectionScratch.resize(size_t(scratchFloats));
  if (dw) kernels::gemm(true, false, int(l.out), int(l.in), int(n), 1.0f, dy, int(l.out), x, int(l.in), 0.0f, dw, int(l.in));
  if (dBias) kernels::columnSums(dy, dBias, int(n), int(l.out));
  if (s.bf16) {
    float* into = accumulate ? projectionScratch.data() : dx;
    bf16::matMul(dy, reinterpret_cast<const uint16_t*>(l.w), into, int(n), int(l.in), int(l.out));
    if (accumulate) addInto(dx, into, n * l.in);
  } else {
    kernels::gemm(false, false, int(n), int(l.in), int(l.out), 1.0f, dy, int(l.out), l.w, int(l.in), accumulate ? 1.0f : 0.0f, dx, int(l.in));
  }
  if (!l.a) return;
  float* upT = projectionScratch.data() + n * l.in;  // (dy·B)ᵀ [r, n]
  float* dBT = upT + long(r) * n;                      // dBᵀ [r, out]
  kernels::gemm(true, true, r, int(n), int(l.out), 1.0f, l.b, r, dy, int(l.out), 0.0f, upT, int(n));
  kernels::gemm(false, false, r, int(l.in), int(n), s.loraScale, upT, int(n), x, int(l.in), 0.0f, dA, int(l.in));
  kernels::gemm(false, false, r, int(l.out), int(n), s.loraScale, downT, int(n), dy, int(l.out), 0.0f, dBT, int(l.out));
  kernels::transpose2d(dBT, dB, r, int(l.out));
  kernels::gemm(true, false, int(n), int(l.in), r, s.loraScale, upT, int(n), l.a, int(l.in), 1.0f, dx, int(l.in));
}

/** The block's projections: their weights, biases and adapters, by Projection. */
struct Linears {
  Linear at[kProjections];
  bool adapted[kProjections];

  Linears(const Shape& s, const float* const* w, const float* const* a) {
    const Sizes z(s);
    const int weight[kProjections] = {QW, KW, VW, OW, GateW, UpW, DownW};
    const auto weightAt = [&](int i) { return w ? w[i] : nullptr; };
    const float* bias[kProjections] = {weightAt(QB), weightAt(KB), weightAt(VB), nullptr, nullptr, nullptr, nullptr};
    const long in[kProjections] = {z.c, z.c, z.c, z.q, z.c, z.c, z.f};
    const long out[kProjections] = {z.q, z.kv, z.kv, z.c, z.f, z.f, z.c};
    for (int p = 0; p < kProjections; p++) {
      const bool lora = s.loraRank > 0 && a && a[2 * p];
      at[p] = {weightAt(weight[p]), s.qkvBias ? bias[p] : nullptr, lora ? a[2 * p] : nullptr, lora ? a[2 * p + 1] : nullptr, in[p], out[p]};
      adapted[p] = lora;
    }
  }
};

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
  const long matrix = s.bf16 ? 2 : 1;  // values per float
  switch (i) {
    case QW:
    case OW:
      return z.q * z.c / matrix;
    case KW:
    case VW:
      return z.kv * z.c / matrix;
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
      return z.f * z.c / matrix;
    default:
      return z.c;
  }
}

long adapterFloats(const Shape& s, int p, int ab) {
  const Linears l(s, nullptr, nullptr);
  return long(s.loraRank) * (ab == 0 ? l.at[p].in : l.at[p].out);
}

long savedFloats(const Shape& s, int adapted) {
  const bool none[kProjections] = {};
  return Saved(s, nullptr, none).floats + adapted * long(s.b) * s.t * s.loraRank;
}

void forward(const Shape& s, const float* x, const float* const* w, const float* const* a, const float* cos, const float* sin, float* y, float* saved) {
  const Sizes z(s);
  const Linears l(s, w, a);
  const Saved k(s, saved, l.adapted);
  const int half = s.headDim / 2;
  kernels::rmsNormForward(x, w[AttnNorm], k.normed1, k.rstd1, int(z.n), int(z.c), s.eps);
  // q and k before their rotation: projected (then normed per head, Qwen3) into scratch.
  float* qPre = scratchFloats(z.n * (z.q + z.kv));
  float* kPre = qPre + z.n * z.q;
  project(s, l.at[Q], k.normed1, s.qkNorm ? k.qRaw : qPre, k.downT[Q], z.n);
  project(s, l.at[K], k.normed1, s.qkNorm ? k.kRaw : kPre, k.downT[K], z.n);
  project(s, l.at[V], k.normed1, k.v, k.downT[V], z.n);
  if (s.qkNorm) {
    kernels::rmsNormForward(k.qRaw, w[QNorm], qPre, k.rstdQ, int(z.qRows), s.headDim, s.eps);
    kernels::rmsNormForward(k.kRaw, w[KNorm], kPre, k.rstdK, int(z.kvRows), s.headDim, s.eps);
  }
  kernels::rotary(qPre, cos, sin, k.q, z.qRows, s.t, s.heads, half, false);
  kernels::rotary(kPre, cos, sin, k.k, z.kvRows, s.t, s.kvHeads, half, false);
  kernels::groupedAttentionForward(k.q, k.k, k.v, k.att, k.probs, s.b, s.t, s.heads, s.kvHeads, s.headDim);
  project(s, l.at[O], k.att, k.x1, k.downT[O], z.n);
  addInto(k.x1, x, z.n * z.c);
  kernels::rmsNormForward(k.x1, w[MlpNorm], k.normed2, k.rstd2, int(z.n), int(z.c), s.eps);
  project(s, l.at[Gate], k.normed2, k.gate, k.downT[Gate], z.n);
  project(s, l.at[Up], k.normed2, k.up, k.downT[Up], z.n);
  kernels::swigluForward(k.gate, k.up, k.act, z.n * z.f);
  project(s, l.at[Down], k.act, y, k.downT[Down], z.n);
  addInto(y, k.x1, z.n * z.c);
}

void backward(const Shape& s, const float* x, const float* const* w, const float* const* a, const float* cos, const float* sin, const float* saved,
              const float* dy, float* dx, float* const* g, float* const* ga) {
  const Sizes z(s);
  const Linears l(s, w, a);
  const Saved k(s, const_cast<float*>(saved), l.adapted);
  const int half = s.headDim / 2;
  const long nc = z.n * z.c, nq = z.n * z.q, nkv = z.n * z.kv;
  const bool lora = s.loraRank > 0;
  float* dAct = scratchFloats(3 * z.n * z.f + 2 * nc + 4 * nq + 4 * nkv + z.c + s.headDim);
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
  float* frozenNorm = dV + nkv;  // [c]: a frozen norm's weight gradient, not wanted
  float* frozenHeadNorm = frozenNorm + z.c;
  // A weight's gradient (none with LoRA), or with LoRA an adapter's (none without).
  const auto grad = [&](int i) { return lora ? nullptr : g[i]; };
  const auto normGrad = [&](int i, float* unwanted) { return lora ? unwanted : g[i]; };
  const auto backOf = [&](int p, const float* in, const float* dOut, float* dIn, bool accumulate, int weight, int bias) {
    float* dA = l.adapted[p] ? ga[2 * p] : nullptr;
    float* dB = l.adapted[p] ? ga[2 * p + 1] : nullptr;
    projectBackward(s, l.at[p], in, k.downT[p], dOut, dIn, accumulate, grad(weight), bias >= 0 && s.qkvBias ? grad(bias) : nullptr, dA, dB, z.n);
  };

  // MLP: y = x1 + down(silu(gate(normed2))·up(normed2)).
  backOf(Down, k.act, dy, dAct, false, DownW, -1);
  kernels::swigluBackward(k.gate, k.up, dAct, dGate, dUp, z.n * z.f);
  backOf(Gate, k.normed2, dGate, dNormed, false, GateW, -1);
  backOf(Up, k.normed2, dUp, dNormed, true, UpW, -1);
  kernels::rmsNormBackward(k.x1, w[MlpNorm], k.rstd2, dNormed, dX1, normGrad(MlpNorm, frozenNorm), int(z.n), int(z.c));
  addInto(dX1, dy, nc);

  // Attention: x1 = x + o(attention(rope(q), rope(k), v)) of normed1.
  backOf(O, k.att, dX1, dAtt, false, OW, -1);
  kernels::groupedAttentionBackward(k.q, k.k, k.v, k.probs, dAtt, dQ, dK, dV, s.b, s.t, s.heads, s.kvHeads, s.headDim);
  kernels::rotary(dQ, cos, sin, dQ2, z.qRows, s.t, s.heads, half, true);
  kernels::rotary(dK, cos, sin, dK2, z.kvRows, s.t, s.kvHeads, half, true);
  float* dQProjected = dQ2;
  float* dKProjected = dK2;
  if (s.qkNorm) {
    kernels::rmsNormBackward(k.qRaw, w[QNorm], k.rstdQ, dQ2, dQ3, normGrad(QNorm, frozenHeadNorm), int(z.qRows), s.headDim);
    kernels::rmsNormBackward(k.kRaw, w[KNorm], k.rstdK, dK2, dK3, normGrad(KNorm, frozenHeadNorm), int(z.kvRows), s.headDim);
    dQProjected = dQ3;
    dKProjected = dK3;
  }
  backOf(Q, k.normed1, dQProjected, dNormed, false, QW, QB);
  backOf(K, k.normed1, dKProjected, dNormed, true, KW, KB);
  backOf(V, k.normed1, dV, dNormed, true, VW, VB);
  kernels::rmsNormBackward(x, w[AttnNorm], k.rstd1, dNormed, dx, normGrad(AttnNorm, frozenNorm), int(z.n), int(z.c));
  addInto(dx, dX1, nc);
}

}  // namespace llama_block

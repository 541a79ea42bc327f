#include "llama-block.h"

#include <algorithm>
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

/** A second scratch, for a group of projections' temporaries. */
thread_local std::vector<float> projectionScratch;

float* projectionFloats(long floats) {
  if (long(projectionScratch.size()) < floats) projectionScratch.resize(size_t(floats));
  return projectionScratch.data();
}

/**
 * Projections that read one input: first … last (q, k and v; gate and up; o or down alone). Their
 * adapters' products of rank r are taken as one over their A's stacked [count·r, in], with the rank
 * on the side of C's rows: as a column count r = 8 would fill a quarter of the SGEMM's 32-column
 * tiles, and x would be read once per adapter.
 */
struct Group {
  const Shape& s;
  const Linears& l;
  int first, last;
  /** The adapted projections, in order. */
  int adapted[kProjections];
  int count = 0;

  Group(const Shape& s, const Linears& l, int first, int last) : s(s), l(l), first(first), last(last) {
    for (int p = first; p <= last; p++)
      if (l.adapted[p]) adapted[count++] = p;
  }

  long in() const { return l.at[first].in; }
  /** Where `saved` keeps the adapted projections' (x·Aᵀ)ᵀ, stacked. */
  float* downT(const Saved& saved) const { return count ? saved.downT[adapted[0]] : nullptr; }
  long rows() const { return long(count) * s.loraRank; }

  /** The adapted projections' A's stacked [count·r, in]: A itself for one, else copied into `into`. */
  const float* stackedA(float* into) const {
    if (count == 1) return l.at[adapted[0]].a;
    const long size = long(s.loraRank) * in();
    for (int i = 0; i < count; i++) std::memcpy(into + i * size, l.at[adapted[i]].a, sizeof(float) * size);
    return into;
  }
};

/**
 * ys[p − first] [n, out] = x [n, in]·Wᵀ (+ bias) + scale·(x·Aᵀ)·Bᵀ for the group's projections;
 * (x·Aᵀ)ᵀ = A·xᵀ [r, n] of the adapted ones kept stacked from `downT` (Saved lays them out in
 * order). The float32 products that do not wait on one another go to the pool in one dispatch.
 */
void project(const Group& g, const float* x, float* const* ys, float* downT, long n) {
  const Shape& s = g.s;
  const int r = s.loraRank, in = int(g.in()), nn = int(n);
  std::vector<kernels::Product> products;
  for (int p = g.first; p <= g.last; p++) {
    const Linear& l = g.l.at[p];
    float* y = ys[p - g.first];
    if (l.bias)
      for (long row = 0; row < n; row++) std::memcpy(y + row * l.out, l.bias, sizeof(float) * l.out);
    const float beta = l.bias ? 1.0f : 0.0f;
    if (s.bf16) bf16::matMulTransposedB(x, reinterpret_cast<const uint16_t*>(l.w), y, nn, in, int(l.out), beta);
    else products.push_back({false, true, nn, int(l.out), in, 1.0f, x, in, l.w, in, beta, y, int(l.out)});
  }
  if (g.count) products.push_back({false, true, int(g.rows()), nn, in, 1.0f, g.stackedA(projectionFloats(g.rows() * in)), in, x, in, 0.0f, downT, nn});
  kernels::gemms(products.data(), int(products.size()));
  products.clear();
  for (int i = 0; i < g.count; i++) {
    const Linear& l = g.l.at[g.adapted[i]];
    products.push_back({true, true, nn, int(l.out), r, s.loraScale, downT + i * long(r) * n, nn, l.b, r, 1.0f, ys[g.adapted[i] - g.first], int(l.out)});
  }
  kernels::gemms(products.data(), int(products.size()));
}

/**
 * The backward pass of project(): dx [n, in] = Σ dy·W + scale·(dy·B)·A over the group; each dW
 * [out, in] = dyᵀ·x and the bias's gradient where dw and dBias give them (full training), and the
 * adapters' dA = scale·(dy·B)ᵀ·x, dB = scale·dyᵀ·down into dA, dB. As in project(), the float32
 * products that do not wait on one another are one dispatch: dx's sum (a chain), the dW's, and
 * the adapters' dy·B and dBᵀ; then dx's adapter term and the dA's.
 */
void projectBackward(const Group& g, const float* x, const float* downT, const float* const* dys, float* dx, float* const* dw,
                     float* const* dBias, float* const* dA, float* const* dB, long n) {
  const Shape& s = g.s;
  const int r = s.loraRank, in = int(g.in()), nn = int(n), rows = int(g.rows());
  long outs = 0;
  for (int i = 0; i < g.count; i++) outs += g.l.at[g.adapted[i]].out;
  float* upT = projectionFloats(g.rows() * (n + 2 * in) + long(r) * outs);  // (dy·B)ᵀ [r, n] of each adapted projection, stacked
  float* stackedA = upT + g.rows() * n;   // A's stacked [count·r, in]
  float* stackedDA = stackedA + g.rows() * in;  // dA's stacked
  float* dBT = stackedDA + g.rows() * in;  // dBᵀ [r, out] of each adapted projection, one after another
  std::vector<kernels::Product> products;
  for (int p = g.first; p <= g.last; p++) {
    const Linear& l = g.l.at[p];
    const float* dy = dys[p - g.first];
    const bool add = p > g.first;
    if (dBias[p]) kernels::columnSums(dy, dBias[p], nn, int(l.out));
    if (s.bf16) {
      bf16::matMul(dy, reinterpret_cast<const uint16_t*>(l.w), dx, nn, in, int(l.out), add ? 1.0f : 0.0f);
    } else {
      products.push_back({false, false, nn, in, int(l.out), 1.0f, dy, int(l.out), l.w, in, add ? 1.0f : 0.0f, dx, in});
    }
  }
  for (int p = g.first; p <= g.last; p++)
    if (dw[p]) products.push_back({true, false, int(g.l.at[p].out), in, nn, 1.0f, dys[p - g.first], int(g.l.at[p].out), x, in, 0.0f, dw[p], in});
  float* dBTi = dBT;
  for (int i = 0; i < g.count; i++) {
    const Linear& l = g.l.at[g.adapted[i]];
    const float* dy = dys[g.adapted[i] - g.first];
    const int out = int(l.out);
    products.push_back({true, true, r, nn, out, 1.0f, l.b, r, dy, out, 0.0f, upT + i * long(r) * n, nn});
    products.push_back({false, false, r, out, nn, s.loraScale, downT + i * long(r) * n, nn, dy, out, 0.0f, dBTi, out});
    dBTi += long(r) * out;
  }
  kernels::gemms(products.data(), int(products.size()));
  if (g.count == 0) return;
  // dA's: straight into the one adapter's, or stacked and copied out.
  float* dAs = g.count == 1 ? dA[g.adapted[0]] : stackedDA;
  products.clear();
  products.push_back({true, false, nn, in, rows, s.loraScale, upT, nn, g.stackedA(stackedA), in, 1.0f, dx, in});
  products.push_back({false, false, rows, in, nn, s.loraScale, upT, nn, x, in, 0.0f, dAs, in});
  kernels::gemms(products.data(), int(products.size()));
  if (g.count > 1)
    for (int i = 0; i < g.count; i++) std::memcpy(dA[g.adapted[i]], dAs + i * long(r) * in, sizeof(float) * r * in);
  dBTi = dBT;
  for (int i = 0; i < g.count; i++) {
    const int out = int(g.l.at[g.adapted[i]].out);
    kernels::transpose2d(dBTi, dB[g.adapted[i]], r, out);
    dBTi += long(r) * out;
  }
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
  const Group qkv(s, l, Q, V), o(s, l, O, O), gateUp(s, l, Gate, Up), down(s, l, Down, Down);
  float* const qkvOut[] = {s.qkNorm ? k.qRaw : qPre, s.qkNorm ? k.kRaw : kPre, k.v};
  project(qkv, k.normed1, qkvOut, qkv.downT(k), z.n);
  if (s.qkNorm) {
    kernels::rmsNormForward(k.qRaw, w[QNorm], qPre, k.rstdQ, int(z.qRows), s.headDim, s.eps);
    kernels::rmsNormForward(k.kRaw, w[KNorm], kPre, k.rstdK, int(z.kvRows), s.headDim, s.eps);
  }
  kernels::rotary(qPre, cos, sin, k.q, z.qRows, s.t, s.heads, half, false);
  kernels::rotary(kPre, cos, sin, k.k, z.kvRows, s.t, s.kvHeads, half, false);
  kernels::groupedAttentionForward(k.q, k.k, k.v, k.att, k.probs, s.b, s.t, s.heads, s.kvHeads, s.headDim);
  project(o, k.att, &k.x1, o.downT(k), z.n);
  addInto(k.x1, x, z.n * z.c);
  kernels::rmsNormForward(k.x1, w[MlpNorm], k.normed2, k.rstd2, int(z.n), int(z.c), s.eps);
  float* const gateUpOut[] = {k.gate, k.up};
  project(gateUp, k.normed2, gateUpOut, gateUp.downT(k), z.n);
  kernels::swigluForward(k.gate, k.up, k.act, z.n * z.f);
  project(down, k.act, &y, down.downT(k), z.n);
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
  // Each projection's weight and bias gradients (none with LoRA), or with LoRA its adapter's (none without).
  const int weight[kProjections] = {QW, KW, VW, OW, GateW, UpW, DownW};
  const int bias[kProjections] = {QB, KB, VB, -1, -1, -1, -1};
  float *dw[kProjections], *dBias[kProjections], *dA[kProjections], *dB[kProjections];
  for (int p = 0; p < kProjections; p++) {
    dw[p] = lora ? nullptr : g[weight[p]];
    dBias[p] = !lora && s.qkvBias && bias[p] >= 0 ? g[bias[p]] : nullptr;
    dA[p] = l.adapted[p] ? ga[2 * p] : nullptr;
    dB[p] = l.adapted[p] ? ga[2 * p + 1] : nullptr;
  }
  const auto normGrad = [&](int i, float* unwanted) { return lora ? unwanted : g[i]; };
  const auto back = [&](int first, int last, const float* in, const float* const* dOut, float* dIn) {
    const Group group(s, l, first, last);
    projectBackward(group, in, group.downT(k), dOut, dIn, dw, dBias, dA, dB, z.n);
  };

  // MLP: y = x1 + down(silu(gate(normed2))·up(normed2)).
  back(Down, Down, k.act, &dy, dAct);
  kernels::swigluBackward(k.gate, k.up, dAct, dGate, dUp, z.n * z.f);
  const float* const dGateUp[] = {dGate, dUp};
  back(Gate, Up, k.normed2, dGateUp, dNormed);
  kernels::rmsNormBackward(k.x1, w[MlpNorm], k.rstd2, dNormed, dX1, normGrad(MlpNorm, frozenNorm), int(z.n), int(z.c));
  addInto(dX1, dy, nc);

  // Attention: x1 = x + o(attention(rope(q), rope(k), v)) of normed1.
  back(O, O, k.att, &dX1, dAtt);
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
  const float* const dQkv[] = {dQProjected, dKProjected, dV};
  back(Q, V, k.normed1, dQkv, dNormed);
  kernels::rmsNormBackward(x, w[AttnNorm], k.rstd1, dNormed, dx, normGrad(AttnNorm, frozenNorm), int(z.n), int(z.c));
  addInto(dx, dX1, nc);
}

}  // namespace llama_block

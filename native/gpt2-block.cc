#include "gpt2-block.h"

#include <vector>

#include "kernels.h"

namespace gpt2_block {
namespace {

enum { Ln1W, Ln1B, QkvW, QkvB, ProjW, ProjB, Ln2W, Ln2B, FcW, FcB, OutW, OutB };

/** Where each kept activation lies in `saved`. */
struct Saved {
  float *mean1, *rstd1, *ln1, *qkv, *probs, *att, *x1, *mean2, *rstd2, *ln2, *fc, *gelu;

  Saved(const Shape& s, float* at) {
    const long n = long(s.b) * s.t, c = s.c;
    mean1 = at;
    rstd1 = mean1 + n;
    ln1 = rstd1 + n;
    qkv = ln1 + n * c;
    probs = qkv + n * 3 * c;
    att = probs + long(s.b) * s.h * s.t * s.t;
    x1 = att + n * c;
    mean2 = x1 + n * c;
    rstd2 = mean2 + n;
    ln2 = rstd2 + n;
    fc = ln2 + n * c;
    gelu = fc + n * 4 * c;  // savedFloats counts up to gelu + n·4c
  }
};

/** y += x on block z of [·, cols] matrices (a residual, added where the block was just computed). */
void addBlock(float* y, const float* x, int cols, const kernels::Block& z) {
  for (int r = z.row; r < z.row + z.rows; r++) {
    float* to = y + long(r) * cols + z.col;
    const float* from = x + long(r) * cols + z.col;
#pragma omp simd
    for (int j = 0; j < z.cols; j++) to[j] += from[j];
  }
}

/** Scratch for the backward pass's activation gradients, kept per JS thread between steps. */
thread_local std::vector<float> scratch;

}  // namespace

long savedFloats(const Shape& s) {
  const long n = long(s.b) * s.t;
  return 4 * n + 15 * n * s.c + long(s.b) * s.h * s.t * s.t;
}

long weightFloats(const Shape& s, int i) {
  const long c = s.c;
  switch (i) {
    case QkvW:
      return c * 3 * c;
    case QkvB:
      return 3 * c;
    case ProjW:
      return c * c;
    case FcW:
    case OutW:
      return c * 4 * c;
    case FcB:
      return 4 * c;
    default:
      return c;
  }
}

void forward(const Shape& s, const float* x, const float* const* w, float* y, float* saved) {
  const int n = s.b * s.t, c = s.c;
  const Saved k(s, saved);
  kernels::layerNormForward(x, w[Ln1W], w[Ln1B], k.ln1, k.mean1, k.rstd1, n, c, s.eps);
  kernels::linearForward(k.ln1, w[QkvW], w[QkvB], k.qkv, n, c, 3 * c);
  kernels::attentionForward(k.qkv, k.att, k.probs, s.b, s.t, s.h, c / s.h);
  kernels::linearForwardThen(k.att, w[ProjW], w[ProjB], k.x1, n, c, c, [&](const kernels::Block& z) { addBlock(k.x1, x, c, z); });
  kernels::layerNormForward(k.x1, w[Ln2W], w[Ln2B], k.ln2, k.mean2, k.rstd2, n, c, s.eps);
  kernels::linearForwardThen(k.ln2, w[FcW], w[FcB], k.fc, n, c, 4 * c, [&](const kernels::Block& z) {
    for (long at = long(z.row) * 4 * c + z.col, r = 0; r < z.rows; r++, at += 4 * c) kernels::geluForward(k.fc + at, k.gelu + at, z.cols);
  });
  kernels::linearForwardThen(k.gelu, w[OutW], w[OutB], y, n, 4 * c, c, [&](const kernels::Block& z) { addBlock(y, k.x1, c, z); });
}

void backward(const Shape& s, const float* x, const float* const* w, const float* saved, const float* dy, float* dx, float* const* g) {
  const int n = s.b * s.t, c = s.c;
  const Saved k(s, const_cast<float*>(saved));
  const long nc = long(n) * c;
  scratch.resize(size_t(nc) * (4 + 1 + 1 + 1 + 3));
  float* dHidden = scratch.data();  // [n, 4c]: the MLP's hidden gradient (GELU's output, then its input)
  float* dNormed = dHidden + 4 * nc;  // [n, c]: a norm's output gradient
  float* dX1 = dNormed + nc;
  float* dAtt = dX1 + nc;
  float* dQkv = dAtt + nc;  // [n, 3c]
  kernels::linearBackwardThen(k.gelu, w[OutW], dy, dHidden, g[OutW], g[OutB], n, 4 * c, c, [&](const kernels::Block& z) {
    for (long at = long(z.row) * 4 * c + z.col, r = 0; r < z.rows; r++, at += 4 * c) kernels::geluBackward(k.fc + at, dHidden + at, dHidden + at, z.cols);
  });
  kernels::linearBackward(k.ln2, w[FcW], dHidden, dNormed, g[FcW], g[FcB], n, c, 4 * c);
  kernels::layerNormBackward(k.x1, w[Ln2W], k.mean2, k.rstd2, dNormed, dX1, g[Ln2W], g[Ln2B], n, c, dy);
  kernels::linearBackward(k.att, w[ProjW], dX1, dAtt, g[ProjW], g[ProjB], n, c, c);
  kernels::attentionBackward(k.qkv, k.probs, dAtt, dQkv, s.b, s.t, s.h, c / s.h);
  kernels::linearBackward(k.ln1, w[QkvW], dQkv, dNormed, g[QkvW], g[QkvB], n, c, 3 * c);
  kernels::layerNormBackward(x, w[Ln1W], k.mean1, k.rstd1, dNormed, dx, g[Ln1W], g[Ln1B], n, c, dX1);
}

}  // namespace gpt2_block

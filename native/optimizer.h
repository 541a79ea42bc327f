// The optimizer's passes over every parameter in one call: the clipping norm's sum of squares and
// the AdamW update, split across the pool by chunks of parameters rather than one call each.
#pragma once

namespace optimizer {

/** Σ x² over `count` arrays, each array's sum in double (kernels::sumSquares) added in order. */
double sumSquares(int count, const float* const* x, const long* sizes);

struct AdamW {
  float lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, c1, c2, eps, gradScale;
};

/** kernels::adamwUpdate in place on each parameter i (p, g, m, v), its weight kept ×keep[i] (decay). */
void adamw(int count, float* const* p, const float* const* g, float* const* m, float* const* v, const long* sizes, const float* keep, const AdamW& s);

}  // namespace optimizer

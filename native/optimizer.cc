#include "optimizer.h"

#include <algorithm>
#include <vector>

#include "kernels.h"

namespace optimizer {
namespace {

constexpr long kChunk = 1 << 16;

struct Chunk {
  int array;
  long from, to;
};

/** The arrays cut into chunks of at most kChunk floats, so two threads share even one large matrix. */
std::vector<Chunk> chunks(int count, const long* sizes) {
  std::vector<Chunk> out;
  for (int i = 0; i < count; i++)
    for (long from = 0; from < sizes[i]; from += kChunk) out.push_back({i, from, std::min(sizes[i], from + kChunk)});
  return out;
}

}  // namespace

double sumSquares(int count, const float* const* x, const long* sizes) {
  // Each array's sum as kernels::sumSquares forms it (its chunks of kChunk in order), so the norm
  // is the same float as summing the arrays one call each.
  const std::vector<Chunk> parts = chunks(count, sizes);
  std::vector<double> partial(parts.size());
  kernels::parallel(int(parts.size()), [&](int i) { partial[i] = kernels::sumSquares(x[parts[i].array] + parts[i].from, parts[i].to - parts[i].from); });
  double total = 0;
  for (int i = 0, at = 0; i < count; i++) {
    double array = 0;
    for (; at < int(parts.size()) && parts[at].array == i; at++) array += partial[at];
    total += array;
  }
  return total;
}

void adamw(int count, float* const* p, const float* const* g, float* const* m, float* const* v, const long* sizes, const float* keep, const AdamW& s) {
  const std::vector<Chunk> parts = chunks(count, sizes);
  kernels::parallel(int(parts.size()), [&](int c) {
    const Chunk& k = parts[c];
    const int i = k.array;
    kernels::adamwUpdate(p[i] + k.from, g[i] + k.from, m[i] + k.from, v[i] + k.from, p[i] + k.from, m[i] + k.from, v[i] + k.from, k.to - k.from, s.lr,
                         s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.c1, s.c2, s.eps, keep[i], s.gradScale);
  });
}

}  // namespace optimizer

// The fused generation step (decode.h) for Llama-family blocks: RMSNorm, rotary positions,
// grouped-query attention, a SwiGLU MLP; Qwen2's q/k/v biases, Qwen3's q/k norms, a tied or own head.
#pragma once
#include <cstdint>

namespace llama_decode {

struct Shape {
  int layers, heads, kvHeads, headDim, width, mlpWidth, context, vocab;
  float eps;  // every RMSNorm's
  bool bf16;  // the matrices (embedding, projections, head) are BF16 (native/bf16.h); norms and biases float32
};

/** A matrix's values: float32, or BF16 when Shape::bf16. */
using Matrix = const void*;

/** A block's weights; linear layers in nn.Linear layout [out, in]. Absent parts are null. */
struct Block {
  const float *attentionNorm, *qBias, *kBias, *vBias, *qNorm, *kNorm, *mlpNorm;
  Matrix q, k, v, o, gate, up, down;
};

struct Weights {
  Matrix embedding;  // [vocab, width]
  const Block* blocks;
  const float* finalNorm;
  Matrix head;  // [vocab, width]: the embedding when tied
};

/** Floats of the cache: keys and values [layers][2][context][kvHeads·headDim]. */
inline long cacheFloats(const Shape& s) { return long(s.layers) * 2 * s.context * s.kvHeads * s.headDim; }

/** Weight slots in the order the offsets come in (see addon.cc): the embedding, 14 per block, the final norm, the head. */
constexpr int kBlockSlots = 14;
inline int weightSlots(const Shape& s) { return 1 + s.layers * kBlockSlots + 2; }

/**
 * Feeds ids [t] at positions start … start+t−1 (checked by the caller), rotating q and k by
 * `inverse` [headDim/2] (the model's inverse frequencies), writes their keys and values into
 * `cache` and the last position's logits [vocab].
 */
void forward(const Shape& s, const Weights& w, const double* inverse, const int32_t* ids, int t, int start, float* cache, float* logits);

}  // namespace llama_decode

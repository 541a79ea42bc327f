// A whole GPT forward for generation in one call (as llama.cpp decodes): new tokens after the
// cached ones, keys and values appended to a cache the caller owns, logits of the last position.
#pragma once
#include <cstdint>

namespace decode {

struct Shape {
  int layers, heads, width, context, vocab;
  bool dyt;  // Dynamic Tanh instead of layer norm
};

/** A norm's weights: γ, β and (Dynamic Tanh only) α [1]. */
struct Norm {
  const float *weight, *bias, *alpha;
};

struct Linear {
  const float *weight, *bias;  // Conv1D layout: weight [in, out]
};

struct Block {
  Norm ln1, ln2;
  Linear attn, proj, fc, mlpProj;
};

/**
 * Every weight, where it lies; the head is tied to wte. A model without biases passes zeros.
 * Dynamic Tanh multiplies the embeddings by embedScale [1] (null for layer norm).
 */
struct Weights {
  const float *wte, *wpe;
  const Block* blocks;
  Norm lnf;
  const float* embedScale;
};

/** Floats of the cache: keys and values [layers][2][context][width]. */
inline long cacheFloats(const Shape& s) { return long(s.layers) * 2 * s.context * s.width; }

/** Weight slots per block and in all, in the order the offsets come in (see addon.cc). */
constexpr int kBlockSlots = 14;
inline int weightSlots(const Shape& s) { return 2 + s.layers * kBlockSlots + 3 + 1; }

/**
 * Attention of t new queries (query i at position start + i; q [t, ·] with row stride ldq, head h
 * at column h·d) over the cached keys and values [start + t, ·] (row stride ldkv, the new ones
 * already in): query head h reads key/value head h / group. Heads side by side in out (row stride
 * ldo); scores holds t·(start + t) floats. One token (a generation step) by plain loops: BLAS's
 * per-call cost exceeds a [1, d]·[d, t] product.
 */
void cachedAttention(const float* q, int ldq, const float* keys, const float* values, int ldkv, float* out, int ldo, int heads, int group, int d, int t,
                     int start, float* scores);

/**
 * Feeds ids [t] at positions start … start+t−1 (start + t ≤ context, ids < vocab: checked by the
 * caller), writes their keys and values into `cache` and the last position's logits [vocab].
 */
void forward(const Shape& s, const Weights& w, const int32_t* ids, int t, int start, float* cache, float* logits);

}  // namespace decode

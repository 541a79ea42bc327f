// The output head and its mean cross-entropy in one call (Liger-Kernel's fused linear
// cross-entropy), so the [rows × vocab] logits are never all held. A trainable head: a chunk of
// rows at a time, logits = x·Wᵀ, their log-softmax and loss, and the gradients from them while they
// exist. A frozen head (or no gradient): W read once per chunk of rows, a tile of the vocabulary at
// a time, with the softmax kept running (as flash attention does), a BF16 tile widened in cache.
#pragma once
#include <cstdint>

namespace lce {

/** The head W [vocab, width]: float32, or held as BF16 (a frozen BF16 base's; no gradient). */
struct Head {
  const float* f32;
  const uint16_t* bf16;
};

/**
 * Mean cross-entropy of x [n, width]·Wᵀ against targets [n] over the targets ≥ 0 (a negative one,
 * TRL's -100, is ignored: its row is never multiplied). With `dx` [n, width] its gradient, with
 * `dW` [vocab, width] (float32 heads only) the head's, both of the mean (an incoming gradient of
 * 1); either may be null. At most `maxRows` × vocab floats of logits (or running state) are held.
 */
float forwardBackward(const float* x, Head w, const int32_t* targets, int n, int width, int vocab, int maxRows, float* dx, float* dW);

}  // namespace lce

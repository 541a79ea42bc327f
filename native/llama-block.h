// A whole Llama-family block (Llama, Mistral, Qwen2, Qwen3) of a training step in one call each
// way, composed of the same kernels as the block's ops one by one: RMSNorm, q/k/v projections
// (Qwen2's biases, Qwen3's per-head q/k RMSNorm), rotary positions, grouped-query attention,
// o_proj and the residual; RMSNorm, SwiGLU MLP and the residual. Weights in nn.Linear layout
// [out, in]. What the backward pass needs is kept in one `saved` buffer. With LoRA the base is
// frozen (float32, or BF16) and adapters on any of the seven projections train.
#pragma once

namespace llama_block {

struct Shape {
  int b, t;
  int heads, kvHeads, headDim;
  int width, mlpWidth;
  float eps;
  bool qkvBias, qkNorm;
  /** LoRA's rank (0: every weight trains, no adapters), its scale, and whether the frozen base's matrices are BF16. */
  int loraRank;
  float loraScale;
  bool bf16;
};

/**
 * input_layernorm; q_proj, its bias, k_proj, its bias, v_proj, its bias; q_norm, k_norm; o_proj;
 * post_attention_layernorm; gate_proj, up_proj, down_proj. The biases are there with qkvBias,
 * the norms with qkNorm; absent ones are null.
 */
constexpr int kWeights = 14;
enum Weight { AttnNorm, QW, QB, KW, KB, VW, VB, QNorm, KNorm, OW, MlpNorm, GateW, UpW, DownW };

/** The projections an adapter may sit on; adapter p's A [r, in] and B [out, r] are a[2p], a[2p + 1] (null where none). */
constexpr int kProjections = 7;
enum Projection { Q, K, V, O, Gate, Up, Down };

/** Whether weight `i` is part of a block of this shape. */
bool hasWeight(const Shape& s, int i);

/** The block's weight `i` in floats (a BF16 matrix: half its values). */
long weightFloats(const Shape& s, int i);

/** Adapter p's A (ab 0) or B (ab 1) in floats. */
long adapterFloats(const Shape& s, int p, int ab);

/** The floats `forward` keeps for `backward`, with `adapted` projections' adapters. */
long savedFloats(const Shape& s, int adapted);

/**
 * y [b·t, width] = x + o_proj(attention(rope(q), rope(k), v)) of input_layernorm(x), then
 * + down_proj(silu(gate_proj(·))·up_proj(·)) of post_attention_layernorm(·); cos, sin [t, headDim/2]
 * rotate positions 0 … t − 1; `saved` gets savedFloats(s) floats.
 */
void forward(const Shape& s, const float* x, const float* const* w, const float* const* a, const float* cos, const float* sin, float* y, float* saved);

/**
 * dx and from dy the present weights' gradients g[i] (each the size of its weight), or with LoRA
 * (g unread) the present adapters' ga[i].
 */
void backward(const Shape& s, const float* x, const float* const* w, const float* const* a, const float* cos, const float* sin, const float* saved,
              const float* dy, float* dx, float* const* g, float* const* ga);

}  // namespace llama_block

// A whole GPT-2 block of a training step in one call each way: the same floats as the block's ops
// one by one (the same kernels; a product's bias, the residual adds and GELU are applied to each
// block of it by the thread that computed it), without a tfjs op, tape entry or tensor per step
// inside it. What the backward pass needs is kept in one `saved` buffer.
#pragma once

namespace gpt2_block {

struct Shape {
  int b, t, h, c;
  float eps;
};

/** ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj: weight then bias of each, GPT-2's Conv1D layout. */
constexpr int kWeights = 12;

/** The floats `forward` keeps for `backward`. */
long savedFloats(const Shape& s);

/** The block's weight `i` (of kWeights) in floats. */
long weightFloats(const Shape& s, int i);

/** y [b·t, c] = x + attention(ln_1(x)), then + mlp(ln_2(·)); `saved` gets savedFloats(s) floats. */
void forward(const Shape& s, const float* x, const float* const* w, float* y, float* saved);

/** dx and the weights' gradients g[0 … kWeights − 1] (each the size of its weight) from dy. */
void backward(const Shape& s, const float* x, const float* const* w, const float* saved, const float* dy, float* dx, float* const* g);

}  // namespace gpt2_block

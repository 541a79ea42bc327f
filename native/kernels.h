// Corpus Lab's native kernels: plain functions on float pointers (the addon points them into the
// tfjs wasm backend's heap). Matmuls go to our own SGEMM (gemm.h), single-threaded per call, and are
// split across the pool; everything else is one fused pass.
#pragma once
#include <cstdint>
#include <functional>

namespace kernels {

void setThreads(int n);
int threads();
/** Runs f(0) … f(tasks − 1) on the pool (other kernels' files split their work with it). */
void parallel(int tasks, const std::function<void(int)>& f);

void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
/** One product C = alpha·op(A)·op(B) + beta·C, as gemm() takes it. */
struct Product {
  bool ta, tb;
  int m, n, k;
  float alpha;
  const float* a;
  int lda;
  const float* b;
  int ldb;
  float beta;
  float* c;
  int ldc;
};
/**
 * Products as the tasks of one dispatch to the pool, each split into blocks as gemm() splits one,
 * so a thread done with its part of one takes up the next instead of waiting for the other threads.
 * Products next to each other that write the same C (a sum of products) form a chain: each of its
 * blocks runs the chain's products in order.
 */
void gemms(const Product* products, int count);
/** y = beta·y + op(A)·x for A [m, n] row-major: y [n] = Aᵀx with `ta`, else y [m] = A·x; split across the pool when large. */
void gemv(bool ta, int m, int n, const float* a, int lda, const float* x, float beta, float* y);
/**
 * y_i += A_i·x for `count` row-major matrices A_i [rows_i, n] of one input x [n] (a generation
 * step's q, k and v, or gate and up): all their rows split across the pool in one dispatch.
 */
void gemvRows(int count, const float* const* a, const int* rows, int n, const float* x, float* const* y);
void gemmBatched(int count, bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, long strideA, const float* b, int ldb,
                 long strideB, float beta, float* c, int ldc, long strideC);

void linearForward(const float* x, const float* w, const float* bias, float* y, int n, int in, int out);
void linearBackward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int n, int in, int out);

/** A block of a matrix: rows [row, row + rows) × columns [col, col + cols). */
struct Block {
  int row, rows, col, cols;
};
using BlockTask = std::function<void(const Block&)>;
/** linearForward, then `then` on each block of y once it is done, on the thread that computed it (while it is in that core's cache). */
void linearForwardThen(const float* x, const float* w, const float* bias, float* y, int n, int in, int out, const BlockTask& then);
/** linearBackward, then `then` on each block of dx once it is done; all in one dispatch to the pool. */
void linearBackwardThen(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int n, int in, int out, const BlockTask& then);

void attentionForward(const float* qkv, float* out, float* probs, int b, int t, int h, int d);
void attentionBackward(const float* qkv, const float* probs, const float* dOut, float* dQkv, int b, int t, int h, int d);

void geluForward(const float* x, float* y, long n);
void geluBackward(const float* x, const float* dy, float* dx, long n);

void layerNormForward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int rows, int cols, float eps);
/** dx (+ `plus` [rows, cols] when given: a residual's gradient added in the same pass), dw and db. */
void layerNormBackward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy, float* dx, float* dw, float* db, int rows,
                       int cols, const float* plus = nullptr);

void adamwUpdate(const float* p, const float* g, const float* m, const float* v, float* pOut, float* mOut, float* vOut, long n, float lr, float beta1,
                 float oneMinusBeta1, float beta2, float oneMinusBeta2, float c1, float c2, float eps, float keep, float gradScale);

// ---- Llama-family blocks ----

/** RMSNorm of rows x [rows, cols]: y = x·rstd·w, rstd = 1/√(mean(x²) + eps) kept per row for the backward pass. */
void rmsNormForward(const float* x, const float* w, float* y, float* rstd, int rows, int cols, float eps);
/** dx, and dw [cols] summed over the rows. */
void rmsNormBackward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw, int rows, int cols);

/**
 * Rotary positions, Hugging Face's rotate-half layout, on rows of x [rows, 2·half]: row r is at
 * position (r / inner) % t, whose cos, sin [t, half] rotate its halves (x1, x2) into
 * (x1·cos − x2·sin, x2·cos + x1·sin). With `inverse` the rotation goes back (the backward pass).
 */
void rotary(const float* x, const float* cos, const float* sin, float* y, long rows, int t, int inner, int half, bool inverse);

/** SwiGLU's gating y = silu(gate)·up, silu(g) = g·σ(g). */
void swigluForward(const float* gate, const float* up, float* y, long n);
void swigluBackward(const float* gate, const float* up, const float* dy, float* dGate, float* dUp, long n);

/**
 * Grouped-query causal attention: q [b·t, h·d], k, v [b·t, kv·d], query head j reads key/value
 * head j / (h/kv); out [b·t, h·d], the probabilities [b, h, t, t] kept for the backward pass.
 */
void groupedAttentionForward(const float* q, const float* k, const float* v, float* out, float* probs, int b, int t, int h, int kv, int d);
void groupedAttentionBackward(const float* q, const float* k, const float* v, const float* probs, const float* dOut, float* dq, float* dk, float* dv,
                              int b, int t, int h, int kv, int d);

/**
 * Mean cross-entropy of logits [n, vocab] against targets [n] over the targets ≥ 0 (a negative
 * target, TRL's -100, is ignored); keeps each row's log-sum-exp for the backward pass.
 */
float crossEntropyForward(const float* logits, const int32_t* targets, float* lse, int n, int vocab);
/** dlogits = (softmax − onehot) · d(loss) / (targets ≥ 0); rows of ignored targets get zeros. */
void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse, float dLoss, float* dLogits, int n, int vocab);

/** Rows `ids` [n] of table [vocab, c] into out [n, c]. */
void embeddingForward(const float* table, const int32_t* ids, float* out, int n, int vocab, int c);
/** dTable [vocab, c] = Σ over positions of dy's row added at its id (repeated ids accumulate). */
void embeddingBackward(const int32_t* ids, const float* dy, float* dTable, int n, int vocab, int c);
/** dTable [vocab, c] += the scatter of dy [n, c] by ids, in place. */
void embeddingBackwardAdd(const int32_t* ids, const float* dy, float* dTable, int n, int vocab, int c);

/** Σ x², accumulated in double. */
double sumSquares(const float* x, long n);

void columnSums(const float* x, float* out, int rows, int cols);
void transpose2d(const float* src, float* dst, int rows, int cols);
void expArray(const float* x, float* y, long n);

}  // namespace kernels

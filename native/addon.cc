// N-API entry points. Every kernel takes the wasm backend's heap (an ArrayBuffer, read afresh by
// the caller on every call because growing the memory replaces it) and byte offsets into it, so
// tensors are used where tfjs keeps them.
#include <node_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "decode.h"
#include "gemm.h"
#include "gpt2-block.h"
#include "llama-block.h"
#include "optimizer.h"
#include "kernels.h"
#include "bf16.h"
#include "llama-decode.h"
#include "linear-cross-entropy.h"


namespace {

constexpr size_t kMaxArgs = 20;

class Args {
 public:
  Args(napi_env env, napi_callback_info info, size_t want) : env_(env) {
    size_t argc = kMaxArgs;
    if (napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr) != napi_ok) {
      fail("bad call");
      return;
    }
    if (argc != want) {
      fail("expected " + std::to_string(want) + " arguments, got " + std::to_string(argc));
      return;
    }
    bool isBuffer = false;
    napi_is_arraybuffer(env, argv_[0], &isBuffer);
    if (!isBuffer) {
      fail("argument 1 must be the wasm heap's ArrayBuffer");
      return;
    }
    void* data = nullptr;
    napi_get_arraybuffer_info(env, argv_[0], &data, &bytes_);
    heap_ = static_cast<uint8_t*>(data);
  }

  bool ok() const { return ok_; }

  double num(size_t i) {
    double v = 0;
    if (ok_ && napi_get_value_double(env_, argv_[i], &v) != napi_ok) fail("argument " + std::to_string(i + 1) + " must be a number");
    return v;
  }

  int integer(size_t i) { return int(num(i)); }

  /** The data of argument i, an ArrayBuffer (JS-owned memory outside the heap). */
  uint8_t* buffer(size_t i, size_t* bytes) {
    bool isBuffer = false;
    void* data = nullptr;
    if (ok_ && (napi_is_arraybuffer(env_, argv_[i], &isBuffer) != napi_ok || !isBuffer ||
                napi_get_arraybuffer_info(env_, argv_[i], &data, bytes) != napi_ok))
      fail("argument " + std::to_string(i + 1) + " must be an ArrayBuffer");
    return ok_ ? static_cast<uint8_t*>(data) : nullptr;
  }

  /** The elements of argument i, a typed array of `type`. */
  template <typename T>
  const T* typed(size_t i, napi_typedarray_type type, size_t* length) {
    bool isTyped = false;
    napi_typedarray_type got;
    void* data = nullptr;
    if (ok_ && (napi_is_typedarray(env_, argv_[i], &isTyped) != napi_ok || !isTyped ||
                napi_get_typedarray_info(env_, argv_[i], &got, length, &data, nullptr, nullptr) != napi_ok || got != type))
      fail("argument " + std::to_string(i + 1) + " has the wrong kind of typed array");
    return ok_ ? static_cast<const T*>(data) : nullptr;
  }

  /** The heap at byte offset `off` when `floats` floats from there lie inside it, else a thrown error. */
  const float* span(double off, long floats, const char* what) {
    if (ok_ && (off < 0 || uint64_t(off) % 4 != 0 || off + 4.0 * floats > double(bytes_)))
      fail(std::string(what) + " is not a 4-byte aligned range inside the heap");
    return ok_ ? reinterpret_cast<const float*>(heap_ + uint64_t(off)) : nullptr;
  }

  void check(bool condition, const std::string& why) {
    if (!condition) fail(why);
  }
  bool flag(size_t i) { return num(i) != 0; }

  template <typename T = float>
  T* at(size_t i) {
    const double off = num(i);
    if (!ok_) return nullptr;
    if (off < 0 || off >= double(bytes_) || uint64_t(off) % 4 != 0) {
      fail("argument " + std::to_string(i + 1) + " is not a 4-byte aligned offset inside the heap");
      return nullptr;
    }
    return reinterpret_cast<T*>(heap_ + uint64_t(off));
  }

 private:
  void fail(const std::string& why) {
    if (ok_) napi_throw_error(env_, "CORPUS_LAB_NATIVE", why.c_str());
    ok_ = false;
  }

  napi_env env_;
  napi_value argv_[kMaxArgs];
  uint8_t* heap_ = nullptr;
  size_t bytes_ = 0;
  bool ok_ = true;
};

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

napi_value Gemm(napi_env env, napi_callback_info info) {
  // (heap, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
  Args a(env, info, 14);
  const bool ta = a.flag(1), tb = a.flag(2);
  const int m = a.integer(3), n = a.integer(4), k = a.integer(5);
  const float alpha = float(a.num(6));
  const float* pa = a.at(7);
  const int lda = a.integer(8);
  const float* pb = a.at(9);
  const int ldb = a.integer(10);
  const float beta = float(a.num(11));
  float* pc = a.at(12);
  const int ldc = a.integer(13);
  if (a.ok()) kernels::gemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
  return nullptr;
}

napi_value Gemv(napi_env env, napi_callback_info info) {
  // (heap, transA, m, n, a, lda, x, beta, y): y = op(A)·x + beta·y for A [m, n]
  Args a(env, info, 9);
  const bool ta = a.flag(1);
  const int m = a.integer(2), n = a.integer(3);
  const float* pa = a.at(4);
  const int lda = a.integer(5);
  const float* x = a.at(6);
  const float beta = float(a.num(7));
  float* y = a.at(8);
  if (a.ok()) kernels::gemv(ta, m, n, pa, lda, x, beta, y);
  return nullptr;
}

napi_value GemmBatched(napi_env env, napi_callback_info info) {
  // (heap, count, transA, transB, m, n, k, a, strideA, b, strideB, c, strideC): packed operands, strides in floats
  Args a(env, info, 13);
  const int count = a.integer(1);
  const bool ta = a.flag(2), tb = a.flag(3);
  const int m = a.integer(4), n = a.integer(5), k = a.integer(6);
  const float* pa = a.at(7);
  const long sa = long(a.num(8));
  const float* pb = a.at(9);
  const long sb = long(a.num(10));
  float* pc = a.at(11);
  const long sc = long(a.num(12));
  if (a.ok()) kernels::gemmBatched(count, ta, tb, m, n, k, 1.0f, pa, ta ? m : k, sa, pb, tb ? k : n, sb, 0.0f, pc, n, sc);
  return nullptr;
}

napi_value LinearForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  const float *x = a.at(1), *w = a.at(2), *b = a.at(3);
  float* y = a.at(4);
  const int n = a.integer(5), in = a.integer(6), out = a.integer(7);
  if (a.ok()) kernels::linearForward(x, w, b, y, n, in, out);
  return nullptr;
}

napi_value LinearBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  const float *x = a.at(1), *w = a.at(2), *dy = a.at(3);
  float *dx = a.at(4), *dw = a.at(5), *db = a.at(6);
  const int n = a.integer(7), in = a.integer(8), out = a.integer(9);
  if (a.ok()) kernels::linearBackward(x, w, dy, dx, dw, db, n, in, out);
  return nullptr;
}

napi_value AttentionForward(napi_env env, napi_callback_info info) {
  // Same arguments as the AssemblyScript kernel; its scratch offset (last) is not needed here.
  Args a(env, info, 9);
  const float* qkv = a.at(1);
  float *out = a.at(2), *probs = a.at(3);
  const int b = a.integer(4), t = a.integer(5), h = a.integer(6), d = a.integer(7);
  if (a.ok()) kernels::attentionForward(qkv, out, probs, b, t, h, d);
  return nullptr;
}

napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  const float *qkv = a.at(1), *probs = a.at(2), *dOut = a.at(3);
  float* dQkv = a.at(4);
  const int b = a.integer(5), t = a.integer(6), h = a.integer(7), d = a.integer(8);
  if (a.ok()) kernels::attentionBackward(qkv, probs, dOut, dQkv, b, t, h, d);
  return nullptr;
}

napi_value GeluForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  const float* x = a.at(1);
  float* y = a.at(2);
  const long n = long(a.num(3));
  if (a.ok()) kernels::geluForward(x, y, n);
  return nullptr;
}

napi_value GeluBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  const float *x = a.at(1), *dy = a.at(2);
  float* dx = a.at(3);
  const long n = long(a.num(4));
  if (a.ok()) kernels::geluBackward(x, dy, dx, n);
  return nullptr;
}

napi_value LayerNormForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  const float *x = a.at(1), *w = a.at(2), *b = a.at(3);
  float *y = a.at(4), *mean = a.at(5), *rstd = a.at(6);
  const int rows = a.integer(7), cols = a.integer(8);
  const float eps = float(a.num(9));
  if (a.ok()) kernels::layerNormForward(x, w, b, y, mean, rstd, rows, cols, eps);
  return nullptr;
}

napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  const float *x = a.at(1), *w = a.at(2), *mean = a.at(3), *rstd = a.at(4), *dy = a.at(5);
  float *dx = a.at(6), *dw = a.at(7), *db = a.at(8);
  const int rows = a.integer(9), cols = a.integer(10);
  if (a.ok()) kernels::layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols);
  return nullptr;
}

napi_value AdamwUpdate(napi_env env, napi_callback_info info) {
  Args a(env, info, 19);
  const float *p = a.at(1), *g = a.at(2), *m = a.at(3), *v = a.at(4);
  float *pOut = a.at(5), *mOut = a.at(6), *vOut = a.at(7);
  const long n = long(a.num(8));
  float s[10];
  for (int i = 0; i < 10; i++) s[i] = float(a.num(9 + i));
  if (a.ok()) kernels::adamwUpdate(p, g, m, v, pOut, mOut, vOut, n, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]);
  return nullptr;
}

napi_value CrossEntropyForward(napi_env env, napi_callback_info info) {
  // (heap, logits, targets (int32), lse, loss (one float), n, vocab)
  Args a(env, info, 7);
  const float* logits = a.at(1);
  const int32_t* targets = a.at<int32_t>(2);
  float *lse = a.at(3), *loss = a.at(4);
  const int n = a.integer(5), vocab = a.integer(6);
  if (a.ok()) *loss = kernels::crossEntropyForward(logits, targets, lse, n, vocab);
  return nullptr;
}

napi_value CrossEntropyBackward(napi_env env, napi_callback_info info) {
  // (heap, logits, targets (int32), lse, dLoss (one float), dLogits, n, vocab)
  Args a(env, info, 8);
  const float* logits = a.at(1);
  const int32_t* targets = a.at<int32_t>(2);
  const float *lse = a.at(3), *dLoss = a.at(4);
  float* dLogits = a.at(5);
  const int n = a.integer(6), vocab = a.integer(7);
  if (a.ok()) kernels::crossEntropyBackward(logits, targets, lse, *dLoss, dLogits, n, vocab);
  return nullptr;
}

napi_value EmbeddingForward(napi_env env, napi_callback_info info) {
  // (heap, table, ids (int32), out, n, vocab, c)
  Args a(env, info, 7);
  const float* table = a.at(1);
  const int32_t* ids = a.at<int32_t>(2);
  float* out = a.at(3);
  const int n = a.integer(4), vocab = a.integer(5), c = a.integer(6);
  if (a.ok()) kernels::embeddingForward(table, ids, out, n, vocab, c);
  return nullptr;
}

napi_value EmbeddingBackward(napi_env env, napi_callback_info info) {
  // (heap, ids (int32), dy, dTable, n, vocab, c)
  Args a(env, info, 7);
  const int32_t* ids = a.at<int32_t>(1);
  const float* dy = a.at(2);
  float* dTable = a.at(3);
  const int n = a.integer(4), vocab = a.integer(5), c = a.integer(6);
  if (a.ok()) kernels::embeddingBackward(ids, dy, dTable, n, vocab, c);
  return nullptr;
}

napi_value EmbeddingBackwardAdd(napi_env env, napi_callback_info info) {
  // (heap, ids (int32), dy, dTable (added to in place), n, vocab, c)
  Args a(env, info, 7);
  const int32_t* ids = a.at<int32_t>(1);
  const float* dy = a.at(2);
  float* dTable = a.at(3);
  const int n = a.integer(4), vocab = a.integer(5), c = a.integer(6);
  if (a.ok()) kernels::embeddingBackwardAdd(ids, dy, dTable, n, vocab, c);
  return nullptr;
}

napi_value RmsNormForward(napi_env env, napi_callback_info info) {
  // (heap, x, w, y, rstd, rows, cols, eps)
  Args a(env, info, 8);
  const float *x = a.at(1), *w = a.at(2);
  float *y = a.at(3), *rstd = a.at(4);
  const int rows = a.integer(5), cols = a.integer(6);
  const float eps = float(a.num(7));
  if (a.ok()) kernels::rmsNormForward(x, w, y, rstd, rows, cols, eps);
  return nullptr;
}

napi_value RmsNormBackward(napi_env env, napi_callback_info info) {
  // (heap, x, w, rstd, dy, dx, dw, rows, cols)
  Args a(env, info, 9);
  const float *x = a.at(1), *w = a.at(2), *rstd = a.at(3), *dy = a.at(4);
  float *dx = a.at(5), *dw = a.at(6);
  const int rows = a.integer(7), cols = a.integer(8);
  if (a.ok()) kernels::rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols);
  return nullptr;
}

napi_value Rotary(napi_env env, napi_callback_info info) {
  // (heap, x, cos, sin, y, rows, t, inner, half, inverse)
  Args a(env, info, 10);
  const float *x = a.at(1), *cos = a.at(2), *sin = a.at(3);
  float* y = a.at(4);
  const long rows = long(a.num(5));
  const int t = a.integer(6), inner = a.integer(7), half = a.integer(8);
  const bool inverse = a.flag(9);
  a.check(t > 0 && inner > 0 && half > 0, "rotary: time, rows per position and half the head size must be positive");
  if (a.ok()) kernels::rotary(x, cos, sin, y, rows, t, inner, half, inverse);
  return nullptr;
}

napi_value SwigluForward(napi_env env, napi_callback_info info) {
  // (heap, gate, up, y, n)
  Args a(env, info, 5);
  const float *gate = a.at(1), *up = a.at(2);
  float* y = a.at(3);
  const long n = long(a.num(4));
  if (a.ok()) kernels::swigluForward(gate, up, y, n);
  return nullptr;
}

napi_value SwigluBackward(napi_env env, napi_callback_info info) {
  // (heap, gate, up, dy, dGate, dUp, n)
  Args a(env, info, 7);
  const float *gate = a.at(1), *up = a.at(2), *dy = a.at(3);
  float *dGate = a.at(4), *dUp = a.at(5);
  const long n = long(a.num(6));
  if (a.ok()) kernels::swigluBackward(gate, up, dy, dGate, dUp, n);
  return nullptr;
}

napi_value GroupedAttentionForward(napi_env env, napi_callback_info info) {
  // (heap, q, k, v, out, probs, b, t, h, kv, d)
  Args a(env, info, 11);
  const float *q = a.at(1), *k = a.at(2), *v = a.at(3);
  float *out = a.at(4), *probs = a.at(5);
  const int b = a.integer(6), t = a.integer(7), h = a.integer(8), kv = a.integer(9), d = a.integer(10);
  a.check(kv > 0 && h % kv == 0, "heads must be a multiple of key/value heads");
  if (a.ok()) kernels::groupedAttentionForward(q, k, v, out, probs, b, t, h, kv, d);
  return nullptr;
}

napi_value GroupedAttentionBackward(napi_env env, napi_callback_info info) {
  // (heap, q, k, v, probs, dOut, dq, dk, dv, b, t, h, kv, d)
  Args a(env, info, 14);
  const float *q = a.at(1), *k = a.at(2), *v = a.at(3), *probs = a.at(4), *dOut = a.at(5);
  float *dq = a.at(6), *dk = a.at(7), *dv = a.at(8);
  const int b = a.integer(9), t = a.integer(10), h = a.integer(11), kv = a.integer(12), d = a.integer(13);
  a.check(kv > 0 && h % kv == 0, "heads must be a multiple of key/value heads");
  if (a.ok()) kernels::groupedAttentionBackward(q, k, v, probs, dOut, dq, dk, dv, b, t, h, kv, d);
  return nullptr;
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  const float* x = a.at(1);
  const long n = long(a.num(2));
  return a.ok() ? number(env, kernels::sumSquares(x, n)) : nullptr;
}

napi_value ColumnSums(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  const float* x = a.at(1);
  float* out = a.at(2);
  const int rows = a.integer(3), cols = a.integer(4);
  if (a.ok()) kernels::columnSums(x, out, rows, cols);
  return nullptr;
}

napi_value Transpose2d(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  const float* src = a.at(1);
  float* dst = a.at(2);
  const int rows = a.integer(3), cols = a.integer(4);
  if (a.ok()) kernels::transpose2d(src, dst, rows, cols);
  return nullptr;
}

napi_value ExpArray(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  const float* x = a.at(1);
  float* y = a.at(2);
  const long n = long(a.num(3));
  if (a.ok()) kernels::expArray(x, y, n);
  return nullptr;
}

napi_value Decode(napi_env env, napi_callback_info info) {
  // (heap, cache (ArrayBuffer), weight offsets (Float64Array, decode::weightSlots), ids (Int32Array),
  //  start, logits offset, layers, heads, width, context, vocab, dyt)
  Args a(env, info, 12);
  size_t cacheBytes = 0, slots = 0, t = 0;
  float* cache = reinterpret_cast<float*>(a.buffer(1, &cacheBytes));
  const double* at = a.typed<double>(2, napi_float64_array, &slots);
  const int32_t* ids = a.typed<int32_t>(3, napi_int32_array, &t);
  const int start = a.integer(4);
  const double logitsAt = a.num(5);
  const decode::Shape s{a.integer(6), a.integer(7), a.integer(8), a.integer(9), a.integer(10), a.flag(11)};
  if (!a.ok()) return nullptr;
  a.check(s.layers > 0 && s.heads > 0 && s.width > 0 && s.width % s.heads == 0 && s.context > 0 && s.vocab > 0, "bad model shape");
  a.check(int(slots) == (a.ok() ? decode::weightSlots(s) : 0), "wrong number of weight offsets");
  a.check(t > 0 && start >= 0 && start + long(t) <= s.context, "the tokens do not fit in the context");
  a.check(long(cacheBytes / 4) >= (a.ok() ? decode::cacheFloats(s) : 0), "the cache is too small for the model");
  for (size_t i = 0; a.ok() && i < t; i++) a.check(ids[i] >= 0 && ids[i] < s.vocab, "a token id is outside the vocabulary");
  if (!a.ok()) return nullptr;
  const long c = s.width;
  int next = 0;
  const auto take = [&](long floats) { return a.span(at[next++], floats, "a weight"); };
  const auto takeNorm = [&]() {
    decode::Norm n{take(c), take(c), nullptr};
    if (s.dyt) n.alpha = take(1);
    else next++;
    return n;
  };
  const auto takeLinear = [&](long in, long out) { return decode::Linear{take(in * out), take(out)}; };
  std::vector<decode::Block> blocks(s.layers);
  decode::Weights w{take(long(s.vocab) * c), take(long(s.context) * c), blocks.data(), {}, nullptr};
  for (auto& b : blocks) {
    b.ln1 = takeNorm();
    b.attn = takeLinear(c, 3 * c);
    b.proj = takeLinear(c, c);
    b.ln2 = takeNorm();
    b.fc = takeLinear(c, 4 * c);
    b.mlpProj = takeLinear(4 * c, c);
  }
  w.lnf = takeNorm();
  if (s.dyt) w.embedScale = take(1);
  else next++;
  float* logits = const_cast<float*>(a.span(logitsAt, s.vocab, "the logits"));
  if (a.ok()) decode::forward(s, w, ids, int(t), start, cache, logits);
  return nullptr;
}

/** A BF16 matrix of `elements` values (an even number: packed in pairs) at heap offset `off`. */
const uint16_t* bf16Span(Args& a, double off, long elements, const char* what) {
  a.check(elements % 2 == 0, std::string(what) + " has an odd number of BF16 values");
  return reinterpret_cast<const uint16_t*>(a.span(off, elements / 2, what));
}

napi_value Bf16MatMulTransposedB(napi_env env, napi_callback_info info) {
  // (heap, x, w (BF16 [out, in]), y, n, in, out): y = x·Wᵀ
  Args a(env, info, 7);
  const int n = a.integer(4), in = a.integer(5), out = a.integer(6);
  a.check(n > 0 && in > 0 && out > 0, "bad matrix shape");
  if (!a.ok()) return nullptr;
  const float* x = a.span(a.num(1), long(n) * in, "x");
  const uint16_t* w = bf16Span(a, a.num(2), long(out) * in, "the BF16 matrix");
  float* y = const_cast<float*>(a.span(a.num(3), long(n) * out, "y"));
  if (a.ok()) bf16::matMulTransposedB(x, w, y, n, in, out, 0.0f);
  return nullptr;
}

napi_value Bf16MatMul(napi_env env, napi_callback_info info) {
  // (heap, dy, w (BF16 [out, in]), dx, n, in, out): dx = dy·W
  Args a(env, info, 7);
  const int n = a.integer(4), in = a.integer(5), out = a.integer(6);
  a.check(n > 0 && in > 0 && out > 0, "bad matrix shape");
  if (!a.ok()) return nullptr;
  const float* dy = a.span(a.num(1), long(n) * out, "dy");
  const uint16_t* w = bf16Span(a, a.num(2), long(out) * in, "the BF16 matrix");
  float* dx = const_cast<float*>(a.span(a.num(3), long(n) * in, "dx"));
  if (a.ok()) bf16::matMul(dy, w, dx, n, in, out);
  return nullptr;
}

napi_value Bf16Embedding(napi_env env, napi_callback_info info) {
  // (heap, table (BF16 [vocab, c]), ids (int32), out, n, vocab, c)
  Args a(env, info, 7);
  const int n = a.integer(4), vocab = a.integer(5), c = a.integer(6);
  a.check(n > 0 && vocab > 0 && c > 0, "bad embedding shape");
  if (!a.ok()) return nullptr;
  const uint16_t* table = bf16Span(a, a.num(1), long(vocab) * c, "the BF16 embedding");
  const int32_t* ids = reinterpret_cast<const int32_t*>(a.span(a.num(2), n, "ids"));
  float* out = const_cast<float*>(a.span(a.num(3), long(n) * c, "out"));
  for (int i = 0; a.ok() && i < n; i++) a.check(ids[i] >= 0 && ids[i] < vocab, "a token id is outside the vocabulary");
  if (a.ok()) bf16::embedding(table, ids, out, n, c);
  return nullptr;
}

napi_value LinearCrossEntropy(napi_env env, napi_callback_info info) {
  // (heap, x, w, wIsBf16, targets (int32), loss (one float), dx or -1, dW or -1, n, width, vocab, maxRows)
  Args a(env, info, 12);
  const int n = a.integer(8), width = a.integer(9), vocab = a.integer(10), maxRows = a.integer(11);
  a.check(n > 0 && width > 0 && vocab > 0 && maxRows > 0, "bad head or chunk shape");
  if (!a.ok()) return nullptr;
  const bool bf16 = a.flag(3);
  const float* x = a.span(a.num(1), long(n) * width, "x");
  const lce::Head w = bf16 ? lce::Head{nullptr, bf16Span(a, a.num(2), long(vocab) * width, "the BF16 head")}
                           : lce::Head{a.span(a.num(2), long(vocab) * width, "the head"), nullptr};
  const int32_t* targets = reinterpret_cast<const int32_t*>(a.span(a.num(4), n, "targets"));
  float* loss = const_cast<float*>(a.span(a.num(5), 1, "the loss"));
  const double dxAt = a.num(6), dWAt = a.num(7);
  a.check(!(bf16 && dWAt >= 0), "a BF16 head is frozen: it has no gradient");
  float* dx = dxAt < 0 ? nullptr : const_cast<float*>(a.span(dxAt, long(n) * width, "dx"));
  float* dW = dWAt < 0 ? nullptr : const_cast<float*>(a.span(dWAt, long(vocab) * width, "dW"));
  for (int i = 0; a.ok() && i < n; i++) a.check(targets[i] < vocab, "a target is outside the vocabulary");
  if (a.ok()) *loss = lce::forwardBackward(x, w, targets, n, width, vocab, maxRows, dx, dW);
  return nullptr;
}

napi_value DecodeLlama(napi_env env, napi_callback_info info) {
  // (heap, cache (ArrayBuffer), weight offsets (Float64Array, llama_decode::weightSlots; 0: absent),
  //  inverse frequencies (Float64Array [headDim/2]), ids (Int32Array), start, logits offset,
  //  layers, heads, kvHeads, headDim, width, mlpWidth, context, vocab, eps, bf16: the matrices are BF16)
  Args a(env, info, 17);
  size_t cacheBytes = 0, slots = 0, half = 0, t = 0;
  float* cache = reinterpret_cast<float*>(a.buffer(1, &cacheBytes));
  const double* at = a.typed<double>(2, napi_float64_array, &slots);
  const double* inverse = a.typed<double>(3, napi_float64_array, &half);
  const int32_t* ids = a.typed<int32_t>(4, napi_int32_array, &t);
  const int start = a.integer(5);
  const double logitsAt = a.num(6);
  const llama_decode::Shape s{a.integer(7), a.integer(8), a.integer(9), a.integer(10), a.integer(11), a.integer(12), a.integer(13), a.integer(14),
                              float(a.num(15)), a.flag(16)};
  if (!a.ok()) return nullptr;
  a.check(s.layers > 0 && s.heads > 0 && s.kvHeads > 0 && s.heads % s.kvHeads == 0 && s.headDim > 0 && s.headDim % 2 == 0 && s.width > 0 &&
              s.mlpWidth > 0 && s.context > 0 && s.vocab > 0 && s.eps > 0,
          "bad model shape");
  a.check(long(half) * 2 == s.headDim, "expected headDim/2 inverse frequencies");
  a.check(int(slots) == (a.ok() ? llama_decode::weightSlots(s) : 0), "wrong number of weight offsets");
  a.check(t > 0 && start >= 0 && start + long(t) <= s.context, "the tokens do not fit in the context");
  a.check(long(cacheBytes / 4) >= (a.ok() ? llama_decode::cacheFloats(s) : 0), "the cache is too small for the model");
  for (size_t i = 0; a.ok() && i < t; i++) a.check(ids[i] >= 0 && ids[i] < s.vocab, "a token id is outside the vocabulary");
  if (!a.ok()) return nullptr;
  const long c = s.width, d = s.headDim, q = long(s.heads) * d, kv = long(s.kvHeads) * d, f = s.mlpWidth;
  int next = 0;
  const auto take = [&](long floats) {
    a.check(at[next] != 0, "a weight the model needs is missing");
    return a.span(at[next++], floats, "a weight");
  };
  const auto optional = [&](long floats) { return at[next] == 0 ? (next++, nullptr) : take(floats); };
  // A matrix of `elements` values: float32, or BF16 packed two to a float's four bytes.
  const auto matrix = [&](long elements) -> llama_decode::Matrix {
    if (!s.bf16) return take(elements);
    a.check(at[next] == 0 || elements % 2 == 0, "a BF16 matrix has an odd number of values");
    return take(elements / 2);
  };
  const auto optionalMatrix = [&](long elements) { return at[next] == 0 ? (next++, nullptr) : matrix(elements); };
  std::vector<llama_decode::Block> blocks(s.layers);
  llama_decode::Weights w{matrix(long(s.vocab) * c), blocks.data(), nullptr, nullptr};
  for (auto& b : blocks) {
    b.attentionNorm = take(c);
    b.q = matrix(q * c);
    b.qBias = optional(q);
    b.k = matrix(kv * c);
    b.kBias = optional(kv);
    b.v = matrix(kv * c);
    b.vBias = optional(kv);
    b.qNorm = optional(d);
    b.kNorm = optional(d);
    b.o = matrix(c * q);
    b.mlpNorm = take(c);
    b.gate = matrix(f * c);
    b.up = matrix(f * c);
    b.down = matrix(c * f);
    a.check((b.qBias != nullptr) == (b.kBias != nullptr) && (b.kBias != nullptr) == (b.vBias != nullptr), "q, k and v biases come together");
    a.check((b.qNorm != nullptr) == (b.kNorm != nullptr), "q and k norms come together");
  }
  w.finalNorm = take(c);
  w.head = optionalMatrix(long(s.vocab) * c);
  if (!w.head) w.head = w.embedding;
  float* logits = const_cast<float*>(a.span(logitsAt, s.vocab, "the logits"));
  if (a.ok()) llama_decode::forward(s, w, inverse, ids, int(t), start, cache, logits);
  return nullptr;
}

/** A GPT-2 block's shape from arguments i … i + 4 (batch, time, heads, width, eps), checked. */
gpt2_block::Shape blockShape(Args& a, size_t i) {
  const gpt2_block::Shape s{a.integer(i), a.integer(i + 1), a.integer(i + 2), a.integer(i + 3), float(a.num(i + 4))};
  if (a.ok()) a.check(s.b > 0 && s.t > 0 && s.h > 0 && s.c > 0 && s.c % s.h == 0, "bad block shape");
  return s;
}

napi_value Gpt2BlockForward(napi_env env, napi_callback_info info) {
  // (heap, offsets (Float64Array: x, the 12 weights in gpt2_block's order, y, saved), b, t, h, c, eps)
  Args a(env, info, 7);
  size_t slots = 0;
  const double* at = a.typed<double>(1, napi_float64_array, &slots);
  const gpt2_block::Shape s = blockShape(a, 2);
  if (a.ok()) a.check(slots == 3 + gpt2_block::kWeights, "wrong number of offsets");
  if (!a.ok()) return nullptr;
  const long nc = long(s.b) * s.t * s.c;
  const float* w[gpt2_block::kWeights];
  for (int i = 0; i < gpt2_block::kWeights; i++) w[i] = a.span(at[1 + i], gpt2_block::weightFloats(s, i), "a weight");
  const float* x = a.span(at[0], nc, "x");
  float* y = const_cast<float*>(a.span(at[13], nc, "y"));
  float* saved = const_cast<float*>(a.span(at[14], gpt2_block::savedFloats(s), "saved"));
  if (a.ok()) gpt2_block::forward(s, x, w, y, saved);
  return nullptr;
}

napi_value Gpt2BlockBackward(napi_env env, napi_callback_info info) {
  // (heap, offsets (Float64Array: x, the 12 weights, saved, dy, dx, the 12 weights' gradients), b, t, h, c, eps)
  Args a(env, info, 7);
  size_t slots = 0;
  const double* at = a.typed<double>(1, napi_float64_array, &slots);
  const gpt2_block::Shape s = blockShape(a, 2);
  if (a.ok()) a.check(slots == 4 + 2 * gpt2_block::kWeights, "wrong number of offsets");
  if (!a.ok()) return nullptr;
  const long nc = long(s.b) * s.t * s.c;
  const float* w[gpt2_block::kWeights];
  float* g[gpt2_block::kWeights];
  for (int i = 0; i < gpt2_block::kWeights; i++) {
    w[i] = a.span(at[1 + i], gpt2_block::weightFloats(s, i), "a weight");
    g[i] = const_cast<float*>(a.span(at[16 + i], gpt2_block::weightFloats(s, i), "a gradient"));
  }
  const float* x = a.span(at[0], nc, "x");
  const float* saved = a.span(at[13], gpt2_block::savedFloats(s), "saved");
  const float* dy = a.span(at[14], nc, "dy");
  float* dx = const_cast<float*>(a.span(at[15], nc, "dx"));
  if (a.ok()) gpt2_block::backward(s, x, w, saved, dy, dx, g);
  return nullptr;
}

/**
 * A Llama-family block's shape from arguments i … i + 12 (batch, time, heads, kv heads, head size,
 * width, MLP width, eps, q/k/v biases, q/k norms, LoRA rank (0: none), LoRA scale, BF16 base), checked.
 */
llama_block::Shape llamaBlockShape(Args& a, size_t i) {
  const llama_block::Shape s{a.integer(i),      a.integer(i + 1),  a.integer(i + 2),     a.integer(i + 3), a.integer(i + 4),
                             a.integer(i + 5),  a.integer(i + 6),  float(a.num(i + 7)),  a.flag(i + 8),    a.flag(i + 9),
                             a.integer(i + 10), float(a.num(i + 11)), a.flag(i + 12)};
  if (a.ok())
    a.check(s.b > 0 && s.t > 0 && s.heads > 0 && s.kvHeads > 0 && s.heads % s.kvHeads == 0 && s.headDim > 0 && s.headDim % 2 == 0 && s.width > 0 &&
                s.mlpWidth > 0 && s.loraRank >= 0 && (s.loraRank > 0 || !s.bf16),
            "bad Llama block shape");
  return s;
}
constexpr size_t kLlamaShapeArgs = 13;

/** The block's weights (or their gradients) from offsets at[0 …]: null where the shape has none. */
template <typename T>
void llamaBlockWeights(Args& a, const llama_block::Shape& s, const double* at, T** out, const char* what) {
  for (int i = 0; i < llama_block::kWeights; i++)
    out[i] = llama_block::hasWeight(s, i) ? const_cast<T*>(a.span(at[i], llama_block::weightFloats(s, i), what)) : nullptr;
}

/** The adapters' A and B (or their gradients) from offsets at[0 … 13]: null where negative; the count of adapted projections. */
template <typename T>
int llamaBlockAdapters(Args& a, const llama_block::Shape& s, const double* at, T** out, const char* what) {
  int adapted = 0;
  for (int p = 0; p < llama_block::kProjections; p++) {
    const bool present = s.loraRank > 0 && at[2 * p] >= 0;
    for (int ab = 0; ab < 2; ab++)
      out[2 * p + ab] = present ? const_cast<T*>(a.span(at[2 * p + ab], llama_block::adapterFloats(s, p, ab), what)) : nullptr;
    adapted += present;
  }
  return adapted;
}

napi_value LlamaBlockSavedFloats(napi_env env, napi_callback_info info) {
  // (heap, adapted projections, shape (13 numbers)): the floats the forward call keeps for the backward one
  Args a(env, info, 2 + kLlamaShapeArgs);
  const int adapted = a.integer(1);
  const llama_block::Shape s = llamaBlockShape(a, 2);
  return a.ok() ? number(env, double(llama_block::savedFloats(s, adapted))) : nullptr;
}

napi_value LlamaBlockForward(napi_env env, napi_callback_info info) {
  // (heap, offsets (Float64Array: x, the 14 weights in llama_block's order (absent ones any number), cos, sin, y, saved,
  //  the 7 adapters' A and B (absent ones -1)), shape (13 numbers))
  Args a(env, info, 2 + kLlamaShapeArgs);
  size_t slots = 0;
  const double* at = a.typed<double>(1, napi_float64_array, &slots);
  const llama_block::Shape s = llamaBlockShape(a, 2);
  if (a.ok()) a.check(slots == 5 + llama_block::kWeights + 2 * llama_block::kProjections, "wrong number of offsets");
  if (!a.ok()) return nullptr;
  const long nc = long(s.b) * s.t * s.width, rotations = long(s.t) * (s.headDim / 2);
  const float* w[llama_block::kWeights];
  const float* adapters[2 * llama_block::kProjections];
  llamaBlockWeights(a, s, at + 1, w, "a weight");
  const int adapted = llamaBlockAdapters(a, s, at + 19, adapters, "an adapter");
  const float* x = a.span(at[0], nc, "x");
  const float* cos = a.span(at[15], rotations, "cos");
  const float* sin = a.span(at[16], rotations, "sin");
  float* y = const_cast<float*>(a.span(at[17], nc, "y"));
  float* saved = const_cast<float*>(a.span(at[18], llama_block::savedFloats(s, adapted), "saved"));
  if (a.ok()) llama_block::forward(s, x, w, adapters, cos, sin, y, saved);
  return nullptr;
}

napi_value LlamaBlockBackward(napi_env env, napi_callback_info info) {
  // (heap, offsets (Float64Array: x, the 14 weights, cos, sin, saved, dy, dx, the 14 weights' gradients (read without LoRA),
  //  the 7 adapters' A and B, their gradients (absent ones -1)), shape (13 numbers))
  Args a(env, info, 2 + kLlamaShapeArgs);
  size_t slots = 0;
  const double* at = a.typed<double>(1, napi_float64_array, &slots);
  const llama_block::Shape s = llamaBlockShape(a, 2);
  if (a.ok()) a.check(slots == 6 + 2 * llama_block::kWeights + 4 * llama_block::kProjections, "wrong number of offsets");
  if (!a.ok()) return nullptr;
  const long nc = long(s.b) * s.t * s.width, rotations = long(s.t) * (s.headDim / 2);
  const float* w[llama_block::kWeights];
  float* g[llama_block::kWeights] = {};
  const float* adapters[2 * llama_block::kProjections];
  float* adapterGrads[2 * llama_block::kProjections];
  llamaBlockWeights(a, s, at + 1, w, "a weight");
  if (s.loraRank == 0) llamaBlockWeights(a, s, at + 20, g, "a gradient");
  const int adapted = llamaBlockAdapters(a, s, at + 34, adapters, "an adapter");
  llamaBlockAdapters(a, s, at + 48, adapterGrads, "an adapter's gradient");
  const float* x = a.span(at[0], nc, "x");
  const float* cos = a.span(at[15], rotations, "cos");
  const float* sin = a.span(at[16], rotations, "sin");
  const float* saved = a.span(at[17], llama_block::savedFloats(s, adapted), "saved");
  const float* dy = a.span(at[18], nc, "dy");
  float* dx = const_cast<float*>(a.span(at[19], nc, "dx"));
  if (a.ok()) llama_block::backward(s, x, w, adapters, cos, sin, saved, dy, dx, g, adapterGrads);
  return nullptr;
}

/** Arrays in the heap from offsets and float counts (Float64Arrays, arguments i and j); `per` offsets an array. */
struct Arrays {
  std::vector<float*> at;
  std::vector<long> sizes;
};

Arrays heapArrays(Args& a, size_t i, size_t j, int per) {
  size_t slots = 0, count = 0;
  const double* at = a.typed<double>(i, napi_float64_array, &slots);
  const double* sizes = a.typed<double>(j, napi_float64_array, &count);
  Arrays out;
  if (!a.ok()) return out;
  a.check(slots == count * per, "the offsets do not match the sizes");
  for (size_t k = 0; a.ok() && k < slots; k++) {
    out.at.push_back(const_cast<float*>(a.span(at[k], long(sizes[k / per]), "an array")));
  }
  for (size_t k = 0; k < count; k++) out.sizes.push_back(long(sizes[k]));
  return out;
}

napi_value SumSquaresAll(napi_env env, napi_callback_info info) {
  // (heap, offsets (Float64Array), sizes in floats (Float64Array)): Σ x² over all the arrays
  Args a(env, info, 3);
  const Arrays x = heapArrays(a, 1, 2, 1);
  if (!a.ok()) return nullptr;
  return number(env, optimizer::sumSquares(int(x.sizes.size()), x.at.data(), x.sizes.data()));
}

napi_value AdamwAll(napi_env env, napi_callback_info info) {
  // (heap, offsets (Float64Array: p, g, m, v of each parameter), sizes (Float64Array), keep (Float64Array),
  //  lr, beta1, 1 − beta1, beta2, 1 − beta2, c1, c2, eps, gradScale): AdamW in place on every parameter
  Args a(env, info, 13);
  const Arrays x = heapArrays(a, 1, 2, 4);
  size_t count = 0;
  const double* keep = a.typed<double>(3, napi_float64_array, &count);
  float s[9];
  for (int i = 0; i < 9; i++) s[i] = float(a.num(4 + i));
  if (a.ok()) a.check(count == x.sizes.size(), "one keep factor per parameter");
  if (!a.ok()) return nullptr;
  const int n = int(count);
  std::vector<float*> p(n), m(n), v(n);
  std::vector<const float*> g(n);
  std::vector<float> keeps(n);
  for (int i = 0; i < n; i++) {
    p[i] = x.at[4 * i];
    g[i] = x.at[4 * i + 1];
    m[i] = x.at[4 * i + 2];
    v[i] = x.at[4 * i + 3];
    keeps[i] = float(keep[i]);
  }
  optimizer::adamw(n, p.data(), g.data(), m.data(), v.data(), x.sizes.data(), keeps.data(), {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]});
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 1;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1 || n > 256) {
    napi_throw_range_error(env, "CORPUS_LAB_NATIVE", "threads must be a whole number from 1 to 256");
    return nullptr;
  }
  kernels::setThreads(n);
  return number(env, kernels::threads());
}

napi_value Info(napi_env env, napi_callback_info) {
  const std::string blas = std::string("Corpus Lab GEMM (") + gemm::simd() + ")";
  napi_value out, name;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, blas.c_str(), blas.size(), &name);
  napi_set_named_property(env, out, "blas", name);
  napi_set_named_property(env, out, "threads", number(env, kernels::threads()));
  return out;
}

}  // namespace

NAPI_MODULE_INIT() {
  const napi_property_descriptor fns[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemv", nullptr, Gemv, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemmBatched", nullptr, GemmBatched, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"linearForward", nullptr, LinearForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"linearBackward", nullptr, LinearBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"attentionForward", nullptr, AttentionForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"attentionBackward", nullptr, AttentionBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluForward", nullptr, GeluForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluBackward", nullptr, GeluBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNormForward", nullptr, LayerNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNormBackward", nullptr, LayerNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamwUpdate", nullptr, AdamwUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"crossEntropyForward", nullptr, CrossEntropyForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"crossEntropyBackward", nullptr, CrossEntropyBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"embeddingForward", nullptr, EmbeddingForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"embeddingBackward", nullptr, EmbeddingBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"embeddingBackwardAdd", nullptr, EmbeddingBackwardAdd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquares", nullptr, SumSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"columnSums", nullptr, ColumnSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transpose2d", nullptr, Transpose2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"expArray", nullptr, ExpArray, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"decode", nullptr, Decode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rmsNormForward", nullptr, RmsNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rmsNormBackward", nullptr, RmsNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rotary", nullptr, Rotary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"swigluForward", nullptr, SwigluForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"swigluBackward", nullptr, SwigluBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedAttentionForward", nullptr, GroupedAttentionForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedAttentionBackward", nullptr, GroupedAttentionBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"decodeLlama", nullptr, DecodeLlama, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bf16MatMulTransposedB", nullptr, Bf16MatMulTransposedB, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bf16MatMul", nullptr, Bf16MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bf16Embedding", nullptr, Bf16Embedding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"linearCrossEntropy", nullptr, LinearCrossEntropy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gpt2BlockForward", nullptr, Gpt2BlockForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gpt2BlockBackward", nullptr, Gpt2BlockBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"llamaBlockSavedFloats", nullptr, LlamaBlockSavedFloats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"llamaBlockForward", nullptr, LlamaBlockForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"llamaBlockBackward", nullptr, LlamaBlockBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquaresAll", nullptr, SumSquaresAll, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamwAll", nullptr, AdamwAll, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(fns) / sizeof(fns[0]), fns);
  return exports;
}

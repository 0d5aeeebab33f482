// Parameters of every kernel: plain structs passed by value to cpu loops and cuda grids alike.
// Shapes are C-order; a stride of 0 broadcasts. Pointers are device pointers (host memory on cpu).
#pragma once

#include "../common/hd.h"

namespace bp {

/** An n-d index space with the strides (in elements) of up to three operands over it. */
struct Space {
  int nd = 0;
  i64 shape[kMaxDims] = {};
  i64 s0[kMaxDims] = {};
  i64 s1[kMaxDims] = {};
  i64 s2[kMaxDims] = {};
};

enum class UnaryOp : int32_t {
  Abs, Neg, Exp, Log, Log1p, Sqrt, Rsqrt, Square, Sigmoid, Tanh, Relu, Relu6, LeakyRelu, Elu, Selu,
  Softplus, Step, Reciprocal, Sign, Floor, Ceil, Round, Sin, Cos, Expm1, Erf, IsNan, IsInf, IsFinite,
  LogicalNot, Clip, Identity, Count
};

enum class BinaryOp : int32_t {
  Add, Sub, Mul, Div, Max, Min, Pow, SquaredDifference, FloorDiv, Mod, Atan2, DivNoNan,
  Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual, LogicalAnd, LogicalOr, LogicalXor, MulStep, Count
};

enum class ReduceOp : int32_t { Sum, Max, Min, Prod, Any, All, Count };

/** y[i] = op(x[i]) for contiguous x, y; `a`, `b` are the op's scalar attributes. */
struct UnaryParams {
  UnaryOp op;
  DType tin, tout;
  const void* x;
  void* y;
  i64 n;
  float a, b;
};

/** y (contiguous over `space`) = op(a, b); space.s0/s1 are a's and b's strides. */
struct BinaryParams {
  BinaryOp op;
  DType tin, tout;
  const void* a;
  const void* b;
  void* y;
  Space space;
};

/** y = cond ? a : b, all broadcast over `space` (s0 cond, s1 a, s2 b). */
struct SelectParams {
  DType t;
  const uint8_t* cond;
  const void* a;
  const void* b;
  void* y;
  Space space;
};

/** y[yoff + Σ i_d·s1_d] = x[xoff + Σ i_d·s0_d] over `space` (elements of `esize` bytes). */
struct CopyParams {
  int esize;
  const void* x;
  i64 xoff;
  void* y;
  i64 yoff;
  Space space;
};

/** Casts contiguous data between element types (bool is 0/1; float → int truncates, as tfjs). */
struct CastParams {
  DType tin, tout;
  const void* x;
  void* y;
  i64 n;
};

/**
 * y[o] = reduce over r of x[Σ o_d·os_d + Σ r_d·rs_d]: `out` is the kept index space (y
 * contiguous over it), `red` the reduced one; both use s0 for x's strides.
 */
struct ReduceParams {
  ReduceOp op;
  DType t;
  const void* x;
  void* y;
  Space out;
  Space red;
};

/** Index (int32) of the first max/min along one axis: x viewed as [outer, axis, inner]. */
struct ArgReduceParams {
  bool isMax;
  DType t;
  const void* x;
  int32_t* y;
  i64 outer, axis, inner;
};

/** GatherV2: x [batch, outer, axisLen, inner], indices [batch, nIdx] → y [batch, outer, nIdx, inner]. */
struct GatherParams {
  int esize;
  const void* x;
  const int32_t* indices;
  void* y;
  i64 batch, outer, axisLen, nIdx, inner;
};

/** y[i, j] = indices[i] == j ? on : off, y [n, depth]. */
struct OneHotParams {
  DType t;
  const int32_t* indices;
  void* y;
  i64 n, depth;
  float on, off;
};

/** Softmax over rows of length `cols` (the last axis). */
struct SoftmaxParams {
  const float* x;
  float* y;
  i64 rows, cols;
};

/**
 * Sliding windows of up to 3 spatial dims, flattened: S input positions, K kernel positions, P
 * output positions. `map` [K·P] (int32) holds the flat input position read by kernel position k
 * at output position p, or -1 for padding.
 */
struct WindowParams {
  const int32_t* map;
  i64 S, K, P;
  /** The geometry the map was made from (spatial dims ≤ 3), for loops that do not need the map. */
  int nd;
  i64 in[3], kernel[3], stride[3], dilation[3], padLo[3], out[3];
};

/**
 * Unfold (im2col) and its adjoint fold: the unfolded element (b, c, k, p) lives at
 * cols[b·cb + c·cc + k·ck + p·cp], the image element (b, c, s) at x[(b·C + c)·S + s].
 */
struct UnfoldParams {
  WindowParams w;
  i64 B, C;
  i64 cb, cc, ck, cp;
  const float* x;   // unfold: source; fold: destination (as `out`)
  float* cols;      // unfold: destination; fold: source (as `in`)
  float padValue;
};

/** Max pooling over windows: x [BC, S] → y [BC, P] and/or the argmax (flat s; -1: all padding). */
struct MaxPoolParams {
  WindowParams w;
  i64 BC;
  const float* x;
  float* y;
  int32_t* arg;
};

/** Routes V [v, BC, P] to the argmax positions (Jᵀ) → [v, BC, S], or gathers V [BC, S] at them (J). */
struct MaxPoolRouteParams {
  WindowParams w;
  i64 v, BC;
  const int32_t* arg;
  const float* V;
  float* y;
};

/** C = alpha·op(A)·op(B) + beta·C for row-major A, B, C, batched with broadcast strides. */
struct GemmParams {
  bool transA, transB;
  i64 M, N, K;
  float alpha, beta;
  const float* A;
  i64 lda;
  const float* B;
  i64 ldb;
  float* C;
  i64 ldc;
  /** Batch index space: s0 = A's batch strides, s1 = B's, s2 = C's (all in elements). */
  Space batch;
};

}  // namespace bp

// Elementwise math, one template per op: the cpu loops and the cuda grids instantiate the same
// functions, so the cpu build tests the code the gpu runs. Semantics follow tfjs's cpu backend
// (e.g. Step(x) = x > 0 ? 1 : alpha, FloorDiv floors, Mod takes the divisor's sign).
#pragma once

#include <cmath>
#include <type_traits>

#include "params.h"

namespace bp {

#if defined(__CUDACC__)
#define BP_MATH(f) ::f
#else
#define BP_MATH(f) std::f
#endif

template <UnaryOp OP>
BP_HD float unaryF(float x, float a, float b) {
  constexpr float kSeluAlpha = 1.6732632423543772f, kSeluScale = 1.0507009873554805f;
  if constexpr (OP == UnaryOp::Abs) return BP_MATH(fabs)(x);
  else if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Exp) return BP_MATH(exp)(x);
  else if constexpr (OP == UnaryOp::Log) return BP_MATH(log)(x);
  else if constexpr (OP == UnaryOp::Log1p) return BP_MATH(log1p)(x);
  else if constexpr (OP == UnaryOp::Sqrt) return BP_MATH(sqrt)(x);
  else if constexpr (OP == UnaryOp::Rsqrt) return 1.0f / BP_MATH(sqrt)(x);
  else if constexpr (OP == UnaryOp::Square) return x * x;
  else if constexpr (OP == UnaryOp::Sigmoid) return 1.0f / (1.0f + BP_MATH(exp)(-x));
  else if constexpr (OP == UnaryOp::Tanh) return BP_MATH(tanh)(x);
  else if constexpr (OP == UnaryOp::Relu) return x > 0.0f ? x : (x != x ? x : 0.0f);
  else if constexpr (OP == UnaryOp::Relu6) return x != x ? x : (x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x));
  else if constexpr (OP == UnaryOp::LeakyRelu) return x < 0.0f ? a * x : x;
  else if constexpr (OP == UnaryOp::Elu) return x >= 0.0f ? x : BP_MATH(expm1)(x);
  else if constexpr (OP == UnaryOp::Selu) return x > 0.0f ? kSeluScale * x : kSeluScale * kSeluAlpha * BP_MATH(expm1)(x);
  else if constexpr (OP == UnaryOp::Softplus) {
    // log(1 + e^x) without overflow: x + log1p(e^-x) for large x.
    return x > 0.0f ? x + BP_MATH(log1p)(BP_MATH(exp)(-x)) : BP_MATH(log1p)(BP_MATH(exp)(x));
  }
  else if constexpr (OP == UnaryOp::Step) return x != x ? x : (x > 0.0f ? 1.0f : a);
  else if constexpr (OP == UnaryOp::Reciprocal) return 1.0f / x;
  else if constexpr (OP == UnaryOp::Sign) return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
  else if constexpr (OP == UnaryOp::Floor) return BP_MATH(floor)(x);
  else if constexpr (OP == UnaryOp::Ceil) return BP_MATH(ceil)(x);
  else if constexpr (OP == UnaryOp::Round) {
    // Round half to even, as tfjs.
    float r = BP_MATH(floor)(x);
    float d = x - r;
    if (d > 0.5f) return r + 1.0f;
    if (d < 0.5f) return r;
    return BP_MATH(fmod)(r, 2.0f) == 0.0f ? r : r + 1.0f;
  }
  else if constexpr (OP == UnaryOp::Sin) return BP_MATH(sin)(x);
  else if constexpr (OP == UnaryOp::Cos) return BP_MATH(cos)(x);
  else if constexpr (OP == UnaryOp::Expm1) return BP_MATH(expm1)(x);
  else if constexpr (OP == UnaryOp::Erf) return BP_MATH(erf)(x);
  else if constexpr (OP == UnaryOp::Clip) return x != x ? x : (x < a ? a : (x > b ? b : x));
  else return x;  // Identity
}

/** Ops whose result is bool whatever the input. */
template <UnaryOp OP>
BP_HD bool unaryPredicate(float x) {
  if constexpr (OP == UnaryOp::IsNan) return x != x;
  else if constexpr (OP == UnaryOp::IsInf) return BP_MATH(isinf)(x);
  else if constexpr (OP == UnaryOp::IsFinite) return BP_MATH(isfinite)(x);
  else return x == 0.0f;  // LogicalNot
}

/** Integer versions of the ops tfjs allows on int32. */
template <UnaryOp OP>
BP_HD int32_t unaryI(int32_t x) {
  if constexpr (OP == UnaryOp::Abs) return x < 0 ? -x : x;
  else if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Square) return x * x;
  else if constexpr (OP == UnaryOp::Sign) return x > 0 ? 1 : (x < 0 ? -1 : 0);
  else return x;
}

template <BinaryOp OP>
constexpr bool isComparison() {
  return OP == BinaryOp::Greater || OP == BinaryOp::GreaterEqual || OP == BinaryOp::Less || OP == BinaryOp::LessEqual ||
         OP == BinaryOp::Equal || OP == BinaryOp::NotEqual || OP == BinaryOp::LogicalAnd || OP == BinaryOp::LogicalOr ||
         OP == BinaryOp::LogicalXor;
}

/** Integer versions where float32 would round beyond 2^24 (FloorDiv, Mod, Pow, DivNoNan); x / 0 → 0. */
template <BinaryOp OP>
BP_HD int32_t binaryInt(int32_t a, int32_t b) {
  if constexpr (OP == BinaryOp::FloorDiv || OP == BinaryOp::DivNoNan) {
    if (b == 0) return 0;
    const int32_t q = a / b;
    return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
  } else if constexpr (OP == BinaryOp::Mod) {
    if (b == 0) return 0;
    const int32_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
  } else {  // Pow: by squaring; negative exponents give 0 unless |a| = 1.
    if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
    int64_t result = 1, base = a;
    for (int32_t e = b; e > 0; e >>= 1) {
      if (e & 1) result = static_cast<int32_t>(result * base);
      base = static_cast<int32_t>(base * base);
    }
    return static_cast<int32_t>(result);
  }
}

/** Arithmetic ops on T (float or int32). */
template <BinaryOp OP, class T>
BP_HD T binaryArith(T a, T b) {
  if constexpr (std::is_same_v<T, int32_t> && (OP == BinaryOp::FloorDiv || OP == BinaryOp::Mod || OP == BinaryOp::Pow || OP == BinaryOp::DivNoNan)) {
    return binaryInt<OP>(a, b);
  }
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else if constexpr (OP == BinaryOp::Div) return a / b;
  else if constexpr (OP == BinaryOp::Max) return (a != a || a > b) ? a : b;
  else if constexpr (OP == BinaryOp::Min) return (a != a || a < b) ? a : b;
  else if constexpr (OP == BinaryOp::Pow) return static_cast<T>(BP_MATH(pow)(static_cast<float>(a), static_cast<float>(b)));
  else if constexpr (OP == BinaryOp::SquaredDifference) return (a - b) * (a - b);
  else if constexpr (OP == BinaryOp::FloorDiv) {
    return static_cast<T>(BP_MATH(floor)(static_cast<float>(a) / static_cast<float>(b)));
  }
  else if constexpr (OP == BinaryOp::Mod) {
    // The divisor's sign, as tfjs (and Python).
    float r = BP_MATH(fmod)(static_cast<float>(a), static_cast<float>(b));
    if (r != 0.0f && ((r < 0.0f) != (static_cast<float>(b) < 0.0f))) r += static_cast<float>(b);
    return static_cast<T>(r);
  }
  else if constexpr (OP == BinaryOp::Atan2) return static_cast<T>(BP_MATH(atan2)(static_cast<float>(a), static_cast<float>(b)));
  // a·step(b): a ReLU's Jacobian applied to a, as a·tf.step(b) computes it (NaN where b is NaN).
  else if constexpr (OP == BinaryOp::MulStep) return a * (b != b ? b : b > T(0) ? T(1) : T(0));
  else return b == T(0) ? T(0) : a / b;  // DivNoNan
}

template <BinaryOp OP, class T>
BP_HD bool binaryCompare(T a, T b) {
  if constexpr (OP == BinaryOp::Greater) return a > b;
  else if constexpr (OP == BinaryOp::GreaterEqual) return a >= b;
  else if constexpr (OP == BinaryOp::Less) return a < b;
  else if constexpr (OP == BinaryOp::LessEqual) return a <= b;
  else if constexpr (OP == BinaryOp::Equal) return a == b;
  else if constexpr (OP == BinaryOp::NotEqual) return a != b;
  else if constexpr (OP == BinaryOp::LogicalAnd) return (a != T(0)) && (b != T(0));
  else if constexpr (OP == BinaryOp::LogicalOr) return (a != T(0)) || (b != T(0));
  else return (a != T(0)) != (b != T(0));  // LogicalXor
}

/** Reduction identities and steps; sums and products accumulate in double on the host. */
template <ReduceOp OP, class T>
struct Reducer {
  using Acc = double;
  BP_HD static Acc init() {
    if constexpr (OP == ReduceOp::Sum || OP == ReduceOp::Any) return 0.0;
    else if constexpr (OP == ReduceOp::Prod || OP == ReduceOp::All) return 1.0;
    else if constexpr (OP == ReduceOp::Max) return -INFINITY;
    else return INFINITY;
  }
  BP_HD static Acc step(Acc acc, T x) {
    const Acc v = static_cast<Acc>(x);
    if constexpr (OP == ReduceOp::Sum) return acc + v;
    else if constexpr (OP == ReduceOp::Prod) return acc * v;
    // NaN propagates through max/min, as in tfjs's cpu backend.
    else if constexpr (OP == ReduceOp::Max) return (v != v || v > acc) ? v : acc;
    else if constexpr (OP == ReduceOp::Min) return (v != v || v < acc) ? v : acc;
    else if constexpr (OP == ReduceOp::Any) return (acc != 0.0 || v != 0.0) ? 1.0 : 0.0;
    else return (acc != 0.0 && v != 0.0) ? 1.0 : 0.0;  // All
  }
};

/** Offset of linear index `i` of `space` in the operand with strides `s`. */
BP_HD i64 offsetOf(i64 i, const Space& space, const i64* s) {
  i64 off = 0;
  for (int d = space.nd - 1; d >= 0; d--) {
    const i64 q = i / space.shape[d];
    off += (i - q * space.shape[d]) * s[d];
    i = q;
  }
  return off;
}

}  // namespace bp

// Elementwise kernels on the cpu: the shared bodies of kernels/elementwise.h in loops over rows
// (the innermost dimension after collapsing), with the common stride patterns of broadcasting
// (both contiguous, one a scalar row) as separate loops the compiler can vectorise.
#include <type_traits>
#include <utility>

#include "../device/space.h"
#include "../kernels/elementwise.h"
#include "cpu_device.h"
#include "stream_store.h"

namespace bp {
namespace {

template <class A, class O, class F>
void binaryLoop(ThreadPool& pool, Space s, const A* a, const A* b, O* y, F f, bool isFloatMul = false) {
  for (int d = s.nd - 1, step = 1; d >= 0; d--) {
    s.s2[d] = step;
    step *= static_cast<int>(s.shape[d]);
  }
  collapse(s, 3);
  const int inner = s.nd - 1;
  const i64 cols = s.shape[inner];
  const i64 rows = numel(s) / cols;
  const i64 sa = s.s0[inner], sb = s.s1[inner];
  const bool stream = isFloatMul && rows * cols * i64(sizeof(O)) >= kStreamBytes;
  pool.parallelFor(rows, (kGrain + cols - 1) / cols, [&](i64 r0, i64 r1) {
    Cursor cur(s, inner, r0);
    for (i64 r = r0; r < r1; r++, cur.next(s)) {
      const A* ar = a + cur.off[0];
      const A* br = b + cur.off[1];
      O* yr = y + r * cols;
      if (sa == 1 && sb == 1) {
        for (i64 j = 0; j < cols; j++) yr[j] = f(ar[j], br[j]);
      } else if (sa == 1 && sb == 0) {
        const A bv = br[0];
        for (i64 j = 0; j < cols; j++) yr[j] = f(ar[j], bv);
      } else if (sa == 0 && sb == 1) {
        const A av = ar[0];
        if constexpr (std::is_same_v<A, float> && std::is_same_v<O, float>) {
          if (stream) {
            scaledRow(yr, nullptr, av, br, cols, true);
            continue;
          }
        }
        for (i64 j = 0; j < cols; j++) yr[j] = f(av, br[j]);
      } else {
        for (i64 j = 0; j < cols; j++) yr[j] = f(ar[j * sa], br[j * sb]);
      }
    }
    if (stream) streamFence();
  });
}

template <class T, int... I>
void binaryDispatch(ThreadPool& pool, const BinaryParams& p, std::integer_sequence<int, I...>) {
  auto one = [&](auto opTag) {
    constexpr BinaryOp OP = static_cast<BinaryOp>(decltype(opTag)::value);
    if (static_cast<int>(p.op) != static_cast<int>(OP)) return;
    const T* a = static_cast<const T*>(p.a);
    const T* b = static_cast<const T*>(p.b);
    if constexpr (isComparison<OP>()) {
      binaryLoop(pool, p.space, a, b, static_cast<uint8_t*>(p.y), [](T x, T y) -> uint8_t { return binaryCompare<OP, T>(x, y); });
    } else {
      binaryLoop<T, T>(pool, p.space, a, b, static_cast<T*>(p.y), [](T x, T y) -> T { return binaryArith<OP, T>(x, y); },
                       OP == BinaryOp::Mul && std::is_same_v<T, float>);
    }
  };
  (one(std::integral_constant<int, I>{}), ...);
}

template <int... I>
void unaryDispatch(ThreadPool& pool, const UnaryParams& p, std::integer_sequence<int, I...>) {
  auto one = [&](auto opTag) {
    constexpr UnaryOp OP = static_cast<UnaryOp>(decltype(opTag)::value);
    if (static_cast<int>(p.op) != static_cast<int>(OP)) return;
    if constexpr (OP == UnaryOp::IsNan || OP == UnaryOp::IsInf || OP == UnaryOp::IsFinite || OP == UnaryOp::LogicalNot) {
      uint8_t* y = static_cast<uint8_t*>(p.y);
      if (p.tin == DType::Bool) {
        const uint8_t* x = static_cast<const uint8_t*>(p.x);
        pool.parallelFor(p.n, kGrain, [&](i64 a, i64 b) { for (i64 i = a; i < b; i++) y[i] = unaryPredicate<OP>(static_cast<float>(x[i])); });
      } else if (p.tin == DType::I32) {
        const int32_t* x = static_cast<const int32_t*>(p.x);
        pool.parallelFor(p.n, kGrain, [&](i64 a, i64 b) { for (i64 i = a; i < b; i++) y[i] = unaryPredicate<OP>(static_cast<float>(x[i])); });
      } else {
        const float* x = static_cast<const float*>(p.x);
        pool.parallelFor(p.n, kGrain, [&](i64 a, i64 b) { for (i64 i = a; i < b; i++) y[i] = unaryPredicate<OP>(x[i]); });
      }
    } else if (p.tin == DType::I32) {
      const int32_t* x = static_cast<const int32_t*>(p.x);
      int32_t* y = static_cast<int32_t*>(p.y);
      pool.parallelFor(p.n, kGrain, [&](i64 a, i64 b) { for (i64 i = a; i < b; i++) y[i] = unaryI<OP>(x[i]); });
    } else {
      const float* x = static_cast<const float*>(p.x);
      float* y = static_cast<float*>(p.y);
      const float fa = p.a, fb = p.b;
      pool.parallelFor(p.n, kGrain, [&](i64 a, i64 b) { for (i64 i = a; i < b; i++) y[i] = unaryF<OP>(x[i], fa, fb); });
    }
  };
  (one(std::integral_constant<int, I>{}), ...);
}

template <class T>
void selectLoop(ThreadPool& pool, Space s, const uint8_t* c, const T* a, const T* b, T* y) {
  const i64 n = numel(s);
  pool.parallelFor(n, kGrain, [&](i64 i0, i64 i1) {
    for (i64 i = i0; i < i1; i++) {
      y[i] = c[offsetOf(i, s, s.s0)] ? a[offsetOf(i, s, s.s1)] : b[offsetOf(i, s, s.s2)];
    }
  });
}

template <class I, class O>
void castLoop(ThreadPool& pool, const I* x, O* y, i64 n) {
  pool.parallelFor(n, kGrain, [&](i64 a, i64 b) {
    for (i64 i = a; i < b; i++) {
      if constexpr (std::is_same_v<O, uint8_t>) y[i] = x[i] != I(0) ? 1 : 0;
      // NaN and out-of-range floats become 0 / saturate instead of undefined behaviour.
      else if constexpr (std::is_same_v<I, float> && std::is_same_v<O, int32_t>) y[i] = x[i] != x[i] ? 0 : x[i] >= 2147483647.0f ? 2147483647 : x[i] <= -2147483648.0f ? (-2147483647 - 1) : static_cast<int32_t>(x[i]);
      else y[i] = static_cast<O>(x[i]);
    }
  });
}

template <class I>
void castFrom(ThreadPool& pool, const CastParams& p) {
  const I* x = static_cast<const I*>(p.x);
  if (p.tout == DType::F32) castLoop(pool, x, static_cast<float*>(p.y), p.n);
  else if (p.tout == DType::I32) castLoop(pool, x, static_cast<int32_t*>(p.y), p.n);
  else castLoop(pool, x, static_cast<uint8_t*>(p.y), p.n);
}

}  // namespace

void CpuDevice::unary(const UnaryParams& p) {
  unaryDispatch(pool_, p, std::make_integer_sequence<int, static_cast<int>(UnaryOp::Count)>{});
}

void CpuDevice::binary(const BinaryParams& p) {
  constexpr auto ops = std::make_integer_sequence<int, static_cast<int>(BinaryOp::Count)>{};
  if (p.tin == DType::F32) binaryDispatch<float>(pool_, p, ops);
  else if (p.tin == DType::I32) binaryDispatch<int32_t>(pool_, p, ops);
  else binaryDispatch<uint8_t>(pool_, p, ops);
}

void CpuDevice::select(const SelectParams& p) {
  if (p.t == DType::Bool) selectLoop(pool_, p.space, p.cond, static_cast<const uint8_t*>(p.a), static_cast<const uint8_t*>(p.b), static_cast<uint8_t*>(p.y));
  else selectLoop(pool_, p.space, p.cond, static_cast<const int32_t*>(p.a), static_cast<const int32_t*>(p.b), static_cast<int32_t*>(p.y));
}

void CpuDevice::cast(const CastParams& p) {
  if (p.tin == DType::F32) castFrom<float>(pool_, p);
  else if (p.tin == DType::I32) castFrom<int32_t>(pool_, p);
  else castFrom<uint8_t>(pool_, p);
}

}  // namespace bp

// Elementwise kernels on the cuda device: the op templates of kernels/elementwise.h as grids
// (launch.cuh). Dispatch mirrors the cpu device's (cpu/elementwise.cc) type for type.
#include <utility>

#include "../device/space.h"
#include "launch.cuh"

namespace bp {
namespace {

/** Calls r.run<I>() for the I equal to op. */
template <class Runner, int... I>
void dispatch(int op, Runner& r, std::integer_sequence<int, I...>) {
  ((op == I ? (r.template run<I>(), 0) : 0), ...);
}

struct UnaryRunner {
  cudaStream_t s;
  const UnaryParams& p;
  template <int I>
  void run() {
    constexpr UnaryOp OP = static_cast<UnaryOp>(I);
    if constexpr (OP == UnaryOp::IsNan || OP == UnaryOp::IsInf || OP == UnaryOp::IsFinite || OP == UnaryOp::LogicalNot) {
      uint8_t* y = static_cast<uint8_t*>(p.y);
      if (p.tin == DType::Bool) gpu::launch(s, p.n, gpu::UnaryPredicate<OP, uint8_t>{static_cast<const uint8_t*>(p.x), y});
      else if (p.tin == DType::I32) gpu::launch(s, p.n, gpu::UnaryPredicate<OP, int32_t>{static_cast<const int32_t*>(p.x), y});
      else gpu::launch(s, p.n, gpu::UnaryPredicate<OP, float>{static_cast<const float*>(p.x), y});
    } else if (p.tin == DType::I32) {
      gpu::launch(s, p.n, gpu::UnaryInt<OP>{static_cast<const int32_t*>(p.x), static_cast<int32_t*>(p.y)});
    } else {
      gpu::launch(s, p.n, gpu::UnaryFloat<OP>{static_cast<const float*>(p.x), static_cast<float*>(p.y), p.a, p.b});
    }
  }
};

template <class T>
struct BinaryRunner {
  cudaStream_t s;
  const BinaryParams& p;
  template <int I>
  void run() {
    constexpr BinaryOp OP = static_cast<BinaryOp>(I);
    using F = gpu::BinaryFn<OP, T, isComparison<OP>()>;
    using O = typename F::Out;
    Space sp = p.space;
    // y is contiguous over the space: its strides go in s2 so collapsing keeps it so.
    for (int d = sp.nd - 1, step = 1; d >= 0; d--) {
      sp.s2[d] = step;
      step *= static_cast<int>(sp.shape[d]);
    }
    const i64 n = numel(sp);
    if (n == 0) return;
    collapse(sp, 3);
    const T* a = static_cast<const T*>(p.a);
    const T* b = static_cast<const T*>(p.b);
    O* y = static_cast<O*>(p.y);
    if (sp.nd == 1) gpu::launch(s, n, gpu::BinaryRow<F, T>{a, b, y, sp.s0[0], sp.s1[0]});
    else gpu::launch(s, n, gpu::BinaryStrided<F, T>{a, b, y, sp});
  }
};

template <class T>
void selectTyped(cudaStream_t s, const SelectParams& p) {
  gpu::launch(s, numel(p.space), gpu::SelectBody<T>{p.cond, static_cast<const T*>(p.a), static_cast<const T*>(p.b), static_cast<T*>(p.y), p.space});
}

template <class I>
void castFrom(cudaStream_t s, const CastParams& p) {
  const I* x = static_cast<const I*>(p.x);
  if (p.tout == DType::F32) gpu::launch(s, p.n, gpu::CastBody<I, float>{x, static_cast<float*>(p.y)});
  else if (p.tout == DType::I32) gpu::launch(s, p.n, gpu::CastBody<I, int32_t>{x, static_cast<int32_t*>(p.y)});
  else gpu::launch(s, p.n, gpu::CastBody<I, uint8_t>{x, static_cast<uint8_t*>(p.y)});
}

}  // namespace

void CudaDevice::unary(const UnaryParams& p) {
  UnaryRunner r{stream(), p};
  dispatch(static_cast<int>(p.op), r, std::make_integer_sequence<int, static_cast<int>(UnaryOp::Count)>{});
}

void CudaDevice::binary(const BinaryParams& p) {
  constexpr auto ops = std::make_integer_sequence<int, static_cast<int>(BinaryOp::Count)>{};
  if (p.tin == DType::F32) {
    BinaryRunner<float> r{stream(), p};
    dispatch(static_cast<int>(p.op), r, ops);
  } else if (p.tin == DType::I32) {
    BinaryRunner<int32_t> r{stream(), p};
    dispatch(static_cast<int>(p.op), r, ops);
  } else {
    BinaryRunner<uint8_t> r{stream(), p};
    dispatch(static_cast<int>(p.op), r, ops);
  }
}

void CudaDevice::select(const SelectParams& p) {
  if (p.t == DType::Bool) selectTyped<uint8_t>(stream(), p);
  else selectTyped<int32_t>(stream(), p);  // float and int32 alike: 4-byte moves
}

void CudaDevice::cast(const CastParams& p) {
  if (p.tin == DType::F32) castFrom<float>(stream(), p);
  else if (p.tin == DType::I32) castFrom<int32_t>(stream(), p);
  else castFrom<uint8_t>(stream(), p);
}

}  // namespace bp

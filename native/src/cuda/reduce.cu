// Reductions on the cuda device. Many outputs: one thread per output, its elements in order (the
// cpu device's order). Few outputs over many elements: one block per output, each thread a fixed
// strided subset, then a fixed tree. Accumulators are doubles (Reducer), as on the cpu; results
// never depend on anything but the shapes.
#include <utility>

#include "../device/space.h"
#include "launch.cuh"

namespace bp {
namespace {

/** Outputs below which, with enough elements each, a block per output beats a thread per output. */
constexpr i64 kBlockPerOutputBelow = 8192;
constexpr i64 kBlockPerOutputMinElements = 256;

template <ReduceOp OP, class T>
void reduceTyped(cudaStream_t s, const ReduceParams& p) {
  Space out = p.out, red = p.red;
  const i64 nOut = numel(out), nRed = numel(red);
  if (nOut == 0) return;
  collapse(out, 1);
  collapse(red, 1);
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  if (nOut < kBlockPerOutputBelow && nRed >= kBlockPerOutputMinElements) {
    BP_LAUNCH(gpu::blocksFor(nOut * gpu::kThreads), gpu::kThreads, s, gpu::reduceBlocks<OP, T>)(x, y, out, red, nOut, nRed);
    cudaCheck(cudaGetLastError(), "reduce launch");
  } else {
    gpu::launch(s, nOut, gpu::ReduceOutput<OP, T>{x, y, out, red, nRed});
  }
}

template <class T>
struct ReduceRunner {
  cudaStream_t s;
  const ReduceParams& p;
  template <int I>
  void run() { reduceTyped<static_cast<ReduceOp>(I), T>(s, p); }
};

template <class Runner, int... I>
void dispatch(int op, Runner& r, std::integer_sequence<int, I...>) {
  ((op == I ? (r.template run<I>(), 0) : 0), ...);
}

}  // namespace

void CudaDevice::reduce(const ReduceParams& p) {
  constexpr auto ops = std::make_integer_sequence<int, static_cast<int>(ReduceOp::Count)>{};
  if (p.t == DType::F32) {
    ReduceRunner<float> r{stream(), p};
    dispatch(static_cast<int>(p.op), r, ops);
  } else if (p.t == DType::I32) {
    ReduceRunner<int32_t> r{stream(), p};
    dispatch(static_cast<int>(p.op), r, ops);
  } else {
    ReduceRunner<uint8_t> r{stream(), p};
    dispatch(static_cast<int>(p.op), r, ops);
  }
}

void CudaDevice::argReduce(const ArgReduceParams& p) {
  const i64 n = p.outer * p.inner;
  if (p.axis <= 0) return;
  if (p.t == DType::F32) gpu::launch(stream(), n, gpu::ArgReduceBody<float>{static_cast<const float*>(p.x), p.y, p.axis, p.inner, p.isMax});
  else gpu::launch(stream(), n, gpu::ArgReduceBody<int32_t>{static_cast<const int32_t*>(p.x), p.y, p.axis, p.inner, p.isMax});
}

void CudaDevice::softmax(const SoftmaxParams& p) {
  if (p.rows <= 0 || p.cols <= 0) return;
  constexpr int kRowsPerBlock = gpu::kThreads / 32;
  BP_LAUNCH(gpu::blocksFor(p.rows * gpu::kThreads / kRowsPerBlock), gpu::kThreads, stream(), gpu::softmaxRows<float>)(p.x, p.y, p.rows, p.cols);
  cudaCheck(cudaGetLastError(), "softmax launch");
}

}  // namespace bp

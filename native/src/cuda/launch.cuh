// Grid-stride launchers over the single-source kernel bodies (kernels/*.h): the cuda device's
// counterpart of the cpu device's loops. Every functor below calls the same BP_HD body the cpu
// loop calls (elementwise.h's op templates, offsetOf for strided and broadcast operands, the
// row/plane bodies of windows.h and conv.h); only the decomposition of the index differs.
//
// Determinism: a body that sums writes only what its own thread owns (an output element, an
// image plane, a row), in the body's fixed order; cross-thread sums (reductions, softmax, norms)
// combine per-thread partials in a fixed tree over a fixed block shape. No atomics anywhere.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../kernels/conv.h"
#include "../kernels/elementwise.h"
#include "../kernels/outer.h"
#include "../kernels/windows.h"
#include "cuda_device.h"
#include "kernel_launch.h"

namespace bp {
namespace gpu {

constexpr int kThreads = 256;
/** Blocks of a grid-stride launch at most (132 SMs × 16 resident blocks × 32 waves on an H100). */
constexpr i64 kMaxBlocks = i64(1) << 16;

inline unsigned blocksFor(i64 n, int threads = kThreads) {
  return static_cast<unsigned>(std::max<i64>(1, std::min<i64>((n + threads - 1) / threads, kMaxBlocks)));
}

/** body(i) for every i in [0, n). */
template <class Body>
__global__ void __launch_bounds__(kThreads) gridStride(i64 n, Body body) {
  const i64 step = i64(gridDim.x) * blockDim.x;
  for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) body(i);
}

template <class Body>
void launch(cudaStream_t stream, i64 n, const Body& body) {
  if (n <= 0) return;
#ifdef BP_CUDA_EMULATION
  // A few blocks suffice to exercise the grid stride; each emulated thread costs a fiber.
  BP_LAUNCH(std::min(blocksFor(n), 4u), kThreads, stream, gridStride<Body>)(n, body);
#else
  BP_LAUNCH(blocksFor(n), kThreads, stream, gridStride<Body>)(n, body);
#endif
  cudaCheck(cudaGetLastError(), "kernel launch");
}

// ---- elementwise (kernels/elementwise.h) ----------------------------------------------------------

template <UnaryOp OP>
struct UnaryFloat {
  const float* x;
  float* y;
  float a, b;
  __device__ void operator()(i64 i) const { y[i] = unaryF<OP>(x[i], a, b); }
};

template <UnaryOp OP>
struct UnaryInt {
  const int32_t* x;
  int32_t* y;
  __device__ void operator()(i64 i) const { y[i] = unaryI<OP>(x[i]); }
};

template <UnaryOp OP, class T>
struct UnaryPredicate {
  const T* x;
  uint8_t* y;
  __device__ void operator()(i64 i) const { y[i] = unaryPredicate<OP>(static_cast<float>(x[i])); }
};

/** The op of a binary kernel: comparisons and logical ops give bool (uint8), the rest T. */
template <BinaryOp OP, class T, bool COMPARE>
struct BinaryFn {
  using Out = std::conditional_t<COMPARE, uint8_t, T>;
  __device__ Out operator()(T a, T b) const {
    if constexpr (COMPARE) return binaryCompare<OP, T>(a, b);
    else return binaryArith<OP, T>(a, b);
  }
};

/** One dimension left after collapsing (y contiguous): a row with strides sa, sb (0 broadcasts). */
template <class F, class T>
struct BinaryRow {
  const T* a;
  const T* b;
  typename F::Out* y;
  i64 sa, sb;
  __device__ void operator()(i64 i) const { y[i] = F()(a[i * sa], b[i * sb]); }
};

/** Any broadcast: operand offsets from the index space (y contiguous). */
template <class F, class T>
struct BinaryStrided {
  const T* a;
  const T* b;
  typename F::Out* y;
  Space s;
  __device__ void operator()(i64 i) const { y[i] = F()(a[offsetOf(i, s, s.s0)], b[offsetOf(i, s, s.s1)]); }
};

template <class T>
struct SelectBody {
  const uint8_t* cond;
  const T* a;
  const T* b;
  T* y;
  Space s;
  __device__ void operator()(i64 i) const {
    y[i] = cond[offsetOf(i, s, s.s0)] ? a[offsetOf(i, s, s.s1)] : b[offsetOf(i, s, s.s2)];
  }
};

/** Casts as the cpu device: to bool is x ≠ 0; float → int truncates, NaN → 0, out of range saturates. */
template <class I, class O>
struct CastBody {
  const I* x;
  O* y;
  __device__ void operator()(i64 i) const {
    const I v = x[i];
    if constexpr (std::is_same_v<O, uint8_t>) y[i] = v != I(0) ? 1 : 0;
    else if constexpr (std::is_same_v<I, float> && std::is_same_v<O, int32_t>)
      y[i] = v != v ? 0 : v >= 2147483647.0f ? 2147483647 : v <= -2147483648.0f ? (-2147483647 - 1) : static_cast<int32_t>(v);
    else y[i] = static_cast<O>(v);
  }
};

template <class T>
struct FillBody {
  T* y;
  T v;
  __device__ void operator()(i64 i) const { y[i] = v; }
};

/** C = beta·C over a batch of M×N blocks (a GEMM with K = 0). */
struct ScaleBlocks {
  float* C;
  i64 M, N, ldc;
  float beta;
  Space batch;  // s2: C's batch strides
  __device__ void operator()(i64 i) const {
    const i64 j = i % N, r = (i / N) % M, b = i / (M * N);
    float* c = C + offsetOf(b, batch, batch.s2) + r * ldc + j;
    *c = beta == 0.0f ? 0.0f : beta * *c;
  }
};

// ---- data movement -------------------------------------------------------------------------------

/** y[Σ i_d·s1_d] = x[Σ i_d·s0_d] (offsets already applied to x and y). */
template <class T>
struct CopyBody {
  const T* x;
  T* y;
  Space s;
  __device__ void operator()(i64 i) const { y[offsetOf(i, s, s.s1)] = x[offsetOf(i, s, s.s0)]; }
};

/** GatherV2, element (row, e) of y [batch·outer·nIdx, inner]; out-of-range indices read zeros. */
template <class T>
struct GatherBody {
  const T* x;
  const int32_t* indices;
  T* y;
  i64 outer, axisLen, nIdx, inner;
  __device__ void operator()(i64 i) const {
    const i64 e = i % inner, r = i / inner;
    const i64 j = r % nIdx, bo = r / nIdx, b = bo / outer;
    const i64 idx = indices[b * nIdx + j];
    y[i] = (idx < 0 || idx >= axisLen) ? T(0) : x[(bo * axisLen + idx) * inner + e];
  }
};

struct OneHotBody {
  DType t;
  const int32_t* indices;
  void* y;
  i64 depth;
  float on, off;
  __device__ void operator()(i64 i) const {
    const i64 j = i % depth, hot = indices[i / depth];
    const float v = j == hot ? on : off;
    if (t == DType::F32) static_cast<float*>(y)[i] = v;
    else if (t == DType::I32) static_cast<int32_t*>(y)[i] = static_cast<int32_t>(v);
    else static_cast<uint8_t*>(y)[i] = v != 0.0f;
  }
};

// ---- reductions ------------------------------------------------------------------------------------

/** One output per thread, its reduced elements in order (many outputs, or few elements each). */
template <ReduceOp OP, class T>
struct ReduceOutput {
  const T* x;
  T* y;
  Space out, red;
  i64 nRed;
  __device__ void operator()(i64 o) const {
    using R = Reducer<OP, T>;
    const T* base = x + offsetOf(o, out, out.s0);
    typename R::Acc acc = R::init();
    if (red.nd == 1) {
      const i64 rs = red.s0[0];
      for (i64 r = 0; r < nRed; r++) acc = R::step(acc, base[r * rs]);
    } else {
      for (i64 r = 0; r < nRed; r++) acc = R::step(acc, base[offsetOf(r, red, red.s0)]);
    }
    y[o] = static_cast<T>(acc);
  }
};

/**
 * Combines two partial accumulators of a reduction: the reducer's own step over doubles (a sum
 * adds, a product multiplies, max/min keep NaN, any/all stay logical).
 */
template <ReduceOp OP>
__device__ __forceinline__ double combine(double a, double b) {
  return Reducer<OP, double>::step(a, b);
}

/** Fixed-order tree over a block's partials in shared memory; returns the total in thread 0. */
template <ReduceOp OP>
__device__ double blockCombine(double mine, double* sh) {
  sh[threadIdx.x] = mine;
  __syncthreads();
  // blockDim.x is a power of two (kThreads).
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = combine<OP>(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  const double total = sh[0];
  __syncthreads();
  return total;
}

/** One output per block (few outputs over many elements): each thread a fixed strided subset, then a tree. */
template <ReduceOp OP, class T>
__global__ void __launch_bounds__(kThreads) reduceBlocks(const T* x, T* y, Space out, Space red, i64 nOut, i64 nRed) {
  using R = Reducer<OP, T>;
  __shared__ double sh[kThreads];
  for (i64 o = blockIdx.x; o < nOut; o += gridDim.x) {
    const T* base = x + offsetOf(o, out, out.s0);
    typename R::Acc acc = R::init();
    if (red.nd == 1) {
      const i64 rs = red.s0[0];
      for (i64 r = threadIdx.x; r < nRed; r += blockDim.x) acc = R::step(acc, base[r * rs]);
    } else {
      for (i64 r = threadIdx.x; r < nRed; r += blockDim.x) acc = R::step(acc, base[offsetOf(r, red, red.s0)]);
    }
    const double total = blockCombine<OP>(acc, sh);
    if (threadIdx.x == 0) y[o] = static_cast<T>(total);
  }
}

/** Index of the first max/min along the axis, as the cpu device (strict comparison, first wins). */
template <class T>
struct ArgReduceBody {
  const T* x;
  int32_t* y;
  i64 axis, inner;
  bool isMax;
  __device__ void operator()(i64 t) const {
    const i64 o = t / inner, i = t % inner;
    const T* base = x + o * axis * inner + i;
    T best = base[0];
    int32_t at = 0;
    for (i64 k = 1; k < axis; k++) {
      const T v = base[k * inner];
      if (isMax ? v > best : v < best) {
        best = v;
        at = static_cast<int32_t>(k);
      }
    }
    y[t] = at;
  }
};

/**
 * Softmax, one warp per row, as the cpu device: the row's max, e^(x − max), their sum in double,
 * then y·(1/sum). The lanes' partials meet in a fixed butterfly: the same bits on every run.
 */
template <class T>
__global__ void __launch_bounds__(kThreads) softmaxRows(const T* x, T* y, i64 rows, i64 cols) {
  constexpr int kWarp = 32;
  const int lane = threadIdx.x % kWarp;
  const i64 warps = i64(gridDim.x) * (blockDim.x / kWarp);
  for (i64 r = i64(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp; r < rows; r += warps) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    T mx = -INFINITY;
    for (i64 j = lane; j < cols; j += kWarp) mx = xr[j] > mx ? xr[j] : mx;
    for (int o = kWarp / 2; o > 0; o /= 2) {
      const T other = __shfl_xor_sync(0xffffffffu, mx, o);
      mx = other > mx ? other : mx;
    }
    double sum = 0.0;
    for (i64 j = lane; j < cols; j += kWarp) {
      yr[j] = ::expf(xr[j] - mx);
      sum += yr[j];
    }
    for (int o = kWarp / 2; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const T inv = static_cast<T>(1.0 / sum);
    for (i64 j = lane; j < cols; j += kWarp) yr[j] *= inv;
  }
}

// ---- sliding windows (kernels/windows.h) -------------------------------------------------------------

/** Unfold, one element per thread, ordered so that consecutive threads write consecutive columns. */
struct UnfoldBody {
  UnfoldParams u;
  __device__ void operator()(i64 i) const {
    const i64 C = u.C, K = u.w.K, P = u.w.P;
    if (u.cp == 1) {
      const i64 p = i % P, k = (i / P) % K, c = (i / (P * K)) % C, b = i / (P * K * C);
      unfoldElem(u, b, c, k, p);
    } else {
      const i64 k = i % K, c = (i / K) % C, p = (i / (K * C)) % P, b = i / (K * C * P);
      unfoldElem(u, b, c, k, p);
    }
  }
};

/** Fold, one image plane (b, c) per thread (the plane's sums in the body's order). */
struct FoldPlanes {
  UnfoldParams u;
  __device__ void operator()(i64 r) const { foldPlane(u, const_cast<float*>(u.x) + r * u.w.S, r / u.C, r % u.C); }
};

struct MaxPoolBody {
  MaxPoolParams m;
  __device__ void operator()(i64 i) const {
    const i64 P = m.w.P, bc = i / P, p = i % P;
    const float* plane = m.x + bc * m.w.S;
    const int32_t a = windowArgmax(m.w.map, m.w.K, P, plane, p);
    if (m.arg) m.arg[i] = a;
    if (m.y) m.y[i] = a < 0 ? -INFINITY : plane[a];
  }
};

struct MaxPoolJacTPlanes {
  MaxPoolRouteParams r;
  __device__ void operator()(i64 row) const { maxPoolJacTPlane(r, r.y + row * r.w.S, row / r.BC, row % r.BC); }
};

struct MaxPoolJvpBody {
  MaxPoolRouteParams r;
  __device__ void operator()(i64 i) const { r.y[i] = maxPoolJvpElem(r, i / r.w.P, i % r.w.P); }
};

// ---- fused convolutions (kernels/conv.h) -----------------------------------------------------------

/** Unfold of samples [n0, n0 + count) into U [count, C·K, P], element (n, c, k, p). */
struct UnfoldSamples {
  WindowParams w;
  const float* x;  // the chunk's first sample [C, S]
  float* U;
  i64 C;
  __device__ void operator()(i64 i) const {
    const i64 P = w.P, K = w.K;
    const i64 p = i % P, k = (i / P) % K, c = (i / (P * K)) % C, n = i / (P * K * C);
    unfoldSampleElem(w, x + n * C * w.S, C, U + n * C * K * P, c, k, p);
  }
};

/** Fold of each sample's columns [C·K, P] onto its image channels: one (sample, channel) plane per thread. */
struct FoldSampleChannels {
  WindowParams w;
  const float* cols;  // [count, C·K, P]
  float* y;           // [count, C, S]
  i64 C;
  __device__ void operator()(i64 r) const {
    const i64 m = r / C, c = r % C;
    foldSampleChannel(w, cols + m * C * w.K * w.P, y + r * w.S, c);
  }
};

/** y[n, o, p] += bias[o]. */
struct BiasAdd {
  float* y;
  const float* bias;
  i64 O, P;
  __device__ void operator()(i64 i) const { y[i] += bias[(i / P) % O]; }
};

/** Sum mode, element j of the chunk's partial: acc[j] += Σ_n Σ_v (J[v, n, j] − shift[j])², n then v. */
struct SquaresSum {
  const float* J;  // [v, count, θ]
  const float* shift;
  float* acc;
  i64 v, count, theta;
  __device__ void operator()(i64 j) const {
    for (i64 n = 0; n < count; n++)
      for (i64 q = 0; q < v; q++) squareAccumulate(acc, J + (q * count + n) * theta, shift, j);
  }
};

/** Centred mode, element j: shifted sums and sums of squares of a chunk, into double accumulators. */
struct SquaresCentred {
  const float* J;  // [v, count, θ]
  const float* shift;
  double* s1;
  double* s2;
  i64 v, count, theta;
  __device__ void operator()(i64 j) const {
    for (i64 n = 0; n < count; n++)
      for (i64 q = 0; q < v; q++) centredAccumulate(s1, s2, J + (q * count + n) * theta, shift, j);
  }
};

/** Converts the double accumulators [2θ] to the float output. */
struct DoubleToFloat {
  const double* x;
  float* y;
  __device__ void operator()(i64 j) const { y[j] = static_cast<float>(x[j]); }
};

/** Moments mode, element j: the shift from the weight gradient per vector (conv.h). */
struct MomentsShift {
  const float* grad;
  float* y;
  i64 v, theta, m;
  __device__ void operator()(i64 j) const { y[j] = momentsShift(grad, v, theta, m, j); }
};

/** Rows mode, element (n, j): row_n[j] = Σ_v (J[v, n, j] − shift[j])². */
struct SquaresRows {
  const float* J;
  const float* shift;
  float* y;  // the chunk's first row [count, θ]
  i64 v, count, theta;
  __device__ void operator()(i64 i) const {
    const i64 n = i / theta, j = i % theta;
    float* row = y + n * theta;
    row[j] = 0.0f;
    for (i64 q = 0; q < v; q++) squareAccumulate(row, J + (q * count + n) * theta, shift, j);
  }
};

/** Norms mode, one sample per block: Σ_{v, j} (J − shift)², a double total in a fixed tree. */
template <class T>
__global__ void __launch_bounds__(kThreads) squaresNorms(const T* J, const T* shift, T* y, i64 v, i64 count, i64 theta) {
  __shared__ double sh[kThreads];
  for (i64 n = blockIdx.x; n < count; n += gridDim.x) {
    double total = 0.0;
    for (i64 q = 0; q < v; q++) {
      const T* row = J + (q * count + n) * theta;
      for (i64 j = threadIdx.x; j < theta; j += blockDim.x) total += squareAccumulate(nullptr, row, shift, j);
    }
    total = blockCombine<ReduceOp::Sum>(total, sh);
    if (threadIdx.x == 0) y[n] = static_cast<T>(total);
  }
}

}  // namespace gpu
}  // namespace bp

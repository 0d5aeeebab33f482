// A host emulation of the slice of the CUDA runtime the cuda device uses, for building the device
// with a plain C++ compiler (BP_CUDA_EMULATION) and testing its logic where there is no GPU:
// memory is host memory (poisoned with NaN bytes on allocation, so unwritten outputs show), the
// stream runs synchronously, and a kernel launch runs every block in turn with one cooperative
// fiber per thread, so __syncthreads and __shfl_xor_sync behave as on a GPU (lockstep rounds).
//
// What it cannot show: real concurrency between threads of a grid (races between blocks),
// the GPU's floating-point library (here glibc's), launch limits, timing, and the real cuBLAS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local
#define __launch_bounds__(...)

enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind : int { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
constexpr unsigned cudaStreamNonBlocking = 1;

struct CUstream_st;
using cudaStream_t = CUstream_st*;

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3() = default;
  dim3(unsigned x_, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct cudaDeviceProp {
  char name[256];
  int major, minor;
  int multiProcessorCount;
  size_t totalGlobalMem;
};

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaRuntimeGetVersion(int* v);
cudaError_t cudaDriverGetVersion(int* v);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaMalloc(void** p, size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t s);
cudaError_t cudaMemGetInfo(size_t* free, size_t* total);

namespace bp {
namespace emu {

/** The running thread's coordinates (set by the scheduler before it resumes a fiber). */
struct Coords {
  dim3 thread, block, blockSize, gridSize;
};
Coords& coords();

/** Runs fn once per thread of every block: blocks in turn, threads as fibers in lockstep rounds. */
void runGrid(dim3 grid, dim3 block, const std::function<void()>& fn);
/** Yields the current fiber until every other live thread of its block has reached its next sync point. */
void syncPoint();
/** The exchange slot of `lane`'s thread for the current fiber's k-th shuffle (two rounds deep). */
double* shuffleSlot(unsigned tid, unsigned k);
unsigned& shuffleCount();

template <class Kernel>
struct Launcher {
  dim3 grid, block;
  Kernel* kernel;
  template <class... Args>
  void operator()(Args&&... args) const {
    auto packed = std::make_tuple(std::forward<Args>(args)...);
    runGrid(grid, block, [&] { std::apply([&](auto&... a) { kernel(a...); }, packed); });
  }
};

template <class Kernel>
Launcher<Kernel> launcher(dim3 grid, dim3 block, Kernel* kernel) {
  return {grid, block, kernel};
}

}  // namespace emu
}  // namespace bp

#define threadIdx (::bp::emu::coords().thread)
#define blockIdx (::bp::emu::coords().block)
#define blockDim (::bp::emu::coords().blockSize)
#define gridDim (::bp::emu::coords().gridSize)

inline void __syncthreads() { ::bp::emu::syncPoint(); }

/** Lane exchange within a warp: write, wait a round, read the partner's value, as the hardware does at once. */
template <class T>
T __shfl_xor_sync(unsigned, T value, int laneMask) {
  const unsigned tid = threadIdx.x;
  const unsigned k = ::bp::emu::shuffleCount()++;
  double slot;
  static_assert(sizeof(T) <= sizeof(double), "shuffle of a type wider than 8 bytes");
  std::memcpy(&slot, &value, sizeof(T));
  *::bp::emu::shuffleSlot(tid, k) = slot;
  ::bp::emu::syncPoint();
  const double other = *::bp::emu::shuffleSlot(tid ^ static_cast<unsigned>(laneMask), k);
  T out;
  std::memcpy(&out, &other, sizeof(T));
  return out;
}

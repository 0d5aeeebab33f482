// The device layer: everything the N-API surface (napi/) needs from a device — memory, host
// copies, and the kernel entry points — as one interface with a `cpu` implementation (cpu/) and a
// `cuda` implementation (cuda/, built where nvcc exists). Kernel bodies are shared (kernels/); a
// device only decides how to launch them and which GEMM library runs the products.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "../kernels/conv.h"
#include "../kernels/outer.h"
#include "../kernels/params.h"
#include "caching_allocator.h"

namespace bp {

/** Counters a test can read: host↔device traffic and allocator behaviour. */
struct DeviceCounters {
  uint64_t uploads = 0, downloads = 0;
  uint64_t uploadBytes = 0, downloadBytes = 0;
  /** Convolution products a library (oneDNN) ran instead of the device's own kernels. */
  uint64_t libraryConvolutions = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  /** "cpu" or "cuda". */
  virtual const char* kind() const = 0;
  /** e.g. "OpenBLAS 0.3.21 (Haswell)" or "NVIDIA H100 (cuBLAS 12)". */
  virtual std::string description() const = 0;
  /** Host-addressable memory (cpu): tensor data can be read without a copy. */
  virtual bool hostAddressable() const = 0;
  /** Kernel and GEMM threads of this device instance (cpu; ignored by cuda). */
  virtual void setThreads(int threads) = 0;
  virtual int threads() const = 0;
  /**
   * Whether plain convolution products may run on a convolution library (cpu: oneDNN where it is
   * installed); returns whether one is now in use. Off runs every convolution on the device's own
   * kernels: tests cover both paths this way.
   */
  virtual bool useConvLibrary(bool) { return false; }

  // Memory (through the device's caching allocator). allocate returns nullptr when out of memory.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p) = 0;
  virtual CachingAllocator& allocator() = 0;
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill(void* dst, DType t, i64 n, double value) = 0;
  /** Waits for queued work (a no-op on cpu). */
  virtual void synchronize() = 0;
  DeviceCounters counters;

  // Kernels (params.h / conv.h say what each computes).
  virtual void unary(const UnaryParams& p) = 0;
  virtual void binary(const BinaryParams& p) = 0;
  virtual void select(const SelectParams& p) = 0;
  virtual void cast(const CastParams& p) = 0;
  virtual void copyStrided(const CopyParams& p) = 0;
  virtual void reduce(const ReduceParams& p) = 0;
  virtual void argReduce(const ArgReduceParams& p) = 0;
  virtual void gather(const GatherParams& p) = 0;
  virtual void oneHot(const OneHotParams& p) = 0;
  virtual void softmax(const SoftmaxParams& p) = 0;
  virtual void unfold(const UnfoldParams& p) = 0;
  /** p.x (as the destination, [B, C, S]) ← fold(p.cols). */
  virtual void fold(const UnfoldParams& p) = 0;
  virtual void maxPool(const MaxPoolParams& p) = 0;
  virtual void maxPoolJacT(const MaxPoolRouteParams& p) = 0;
  virtual void maxPoolJvp(const MaxPoolRouteParams& p) = 0;
  virtual void gemm(const GemmParams& p) = 0;
  /** A Linear layer's per-sample weight gradients and their sum (outer.h). */
  virtual void outerProducts(const OuterParams& p) = 0;

  // Fused convolutions (conv.h): y [n, O, P].
  virtual void convForward(const ConvParams& p) = 0;
  /** y [m, C, S] = Jᵀ of the input for V [m, O, P], m = p.n rows. */
  virtual void convInputJacT(const ConvParams& p) = 0;
  /** y [v, G, og, cg·K] = Σ_n V_{v,n} U_nᵀ. */
  virtual void convWeightGrad(const ConvParams& p) = 0;
  /** y [v, n, G, og, cg·K]: per-sample weight Jacobians. */
  virtual void convWeightJac(const ConvParams& p) = 0;
  virtual void convWeightSquares(const ConvParams& p, SquaresMode mode) = 0;
  /** y [C·K, C·K] = Σ_n U_n U_nᵀ (groups = 1): KFAC's input factor before the 1/N. */
  virtual void convInputGram(const ConvParams& p) = 0;
};

/** The cpu device, or nullptr with `error` saying what is missing (a BLAS library). */
std::unique_ptr<Device> makeCpuDevice(int threads, std::string* error);

/** The cuda device (device 0 of CUDA_VISIBLE_DEVICES), or nullptr with `error`; nullptr + "not built" without nvcc. */
std::unique_ptr<Device> makeCudaDevice(std::string* error);

}  // namespace bp

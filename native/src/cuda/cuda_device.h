// The cuda device: device 0 of CUDA_VISIBLE_DEVICES (one process per GPU with --devices), one
// stream per device instance, memory from the caching allocator over cudaMalloc (no
// cudaMalloc/cudaFree per op), kernels as grids over the shared bodies in kernels/ (launch.cuh),
// GEMMs through cuBLAS (dlopen), convolutions as chunked im2col + batched GEMMs.
//
// Host copies happen only in upload()/download(), which count them (DeviceCounters): nothing else
// in the device reads or writes host memory, so a shard's compute is copy-free between its edges.
// Results are deterministic: every sum runs in a fixed order (one stream, fixed chunking, fixed
// block shapes), and cuBLAS is bitwise reproducible on one GPU model with one stream.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "../device/device.h"
#include "cublas.h"
#include "stream_allocator.h"

namespace bp {

/** Throws std::runtime_error naming the call and the CUDA error. */
void cudaCheck(cudaError_t e, const char* what);
#define BP_CUDA(call) ::bp::cudaCheck((call), #call)

class CudaDevice;

/** The stream and the CUDA calls the raw allocator uses; created first, destroyed last. */
class CudaStream : public StreamDriver {
 public:
  CudaStream();
  ~CudaStream() override;
  void* malloc(size_t bytes) override;
  void free(void* p) override;
  void synchronize() override;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class CudaDevice : public Device {
 public:
  CudaDevice(const Cublas* cublas, bool tf32);
  ~CudaDevice() override;
  const char* kind() const override { return "cuda"; }
  std::string description() const override;
  bool hostAddressable() const override { return false; }
  void setThreads(int) override {}
  int threads() const override { return 1; }

  void* allocate(size_t bytes) override { return alloc_.allocate(bytes); }
  void release(void* p) override { alloc_.release(p); }
  CachingAllocator& allocator() override { return alloc_; }
  void upload(void* dst, const void* src, size_t bytes) override;
  void download(void* dst, const void* src, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  void fill(void* dst, DType t, i64 n, double value) override;
  void synchronize() override;

  void unary(const UnaryParams& p) override;
  void binary(const BinaryParams& p) override;
  void select(const SelectParams& p) override;
  void cast(const CastParams& p) override;
  void copyStrided(const CopyParams& p) override;
  void reduce(const ReduceParams& p) override;
  void argReduce(const ArgReduceParams& p) override;
  void gather(const GatherParams& p) override;
  void oneHot(const OneHotParams& p) override;
  void softmax(const SoftmaxParams& p) override;
  void unfold(const UnfoldParams& p) override;
  void fold(const UnfoldParams& p) override;
  void maxPool(const MaxPoolParams& p) override;
  void maxPoolJacT(const MaxPoolRouteParams& p) override;
  void maxPoolJvp(const MaxPoolRouteParams& p) override;
  void gemm(const GemmParams& p) override;
  void outerProducts(const OuterParams& p) override;
  void convForward(const ConvParams& p) override;
  void convInputJacT(const ConvParams& p) override;
  void convWeightGrad(const ConvParams& p) override;
  void convWeightJac(const ConvParams& p) override;
  void convWeightSquares(const ConvParams& p, SquaresMode mode) override;
  void convInputGram(const ConvParams& p) override;

  cudaStream_t stream() const { return stream_.get(); }
  /** TF32 tensor-core GEMMs (off by default: float32 results then match the cpu device at 1e-4). */
  void setTf32(bool on);
  bool tf32() const { return tf32_; }
  const Cublas& cublas() const { return *cublas_; }
  int cublasVersion() const { return cublasVersion_; }
  const std::string& name() const { return name_; }
  int computeCapability() const { return cc_; }
  /** Raw (driver) allocations and frees the caching allocator made. */
  const StreamOrderedRawAllocator& raw() const { return raw_; }

  /** One strided-batched GEMM in row-major terms (cuBLAS's column-major call is made here). */
  void gemmStrided(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* A, i64 lda, i64 sA, const float* B,
                   i64 ldb, i64 sB, float beta, float* C, i64 ldc, i64 sC, i64 count);
  /** A block from the cache for the rest of a kernel call; throws when the device is out of memory. */
  float* scratch(i64 floats);
  /** Floats of the fused convolutions' workspace per chunk of samples (default 64 Mi = 256 MiB). */
  i64 convChunkFloats() const { return convChunkFloats_; }
  void setConvChunkFloats(i64 floats) { convChunkFloats_ = floats > 0 ? floats : kDefaultConvChunkFloats; }
  static constexpr i64 kDefaultConvChunkFloats = i64(64) << 20;

 private:
  const Cublas* cublas_;
  // Declaration order is destruction order reversed: blocks go back to the driver before the
  // stream they were used on is destroyed.
  CudaStream stream_;
  StreamOrderedRawAllocator raw_{&stream_};
  CachingAllocator alloc_{&raw_};
  void* handle_ = nullptr;
  bool tf32_ = false;
  int cublasVersion_ = 0;
  int cc_ = 0;
  i64 convChunkFloats_ = kDefaultConvChunkFloats;
  std::string name_;
};

/** RAII scratch: released to the cache at scope end (stream order keeps queued readers safe). */
class Scratch {
 public:
  Scratch(CudaDevice& d, i64 floats) : d_(d), p_(d.scratch(floats)) {}
  ~Scratch() { d_.release(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* get() const { return p_; }

 private:
  CudaDevice& d_;
  float* p_;
};

}  // namespace bp

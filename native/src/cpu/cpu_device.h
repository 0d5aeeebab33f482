// The cpu device: host memory from a caching allocator (huge pages for large blocks), kernels as
// loops over the shared bodies in kernels/, run on the device's own thread pool, GEMMs from the
// BLAS that blas/ found. One instance per addon instance, i.e. per worker thread or process.
#pragma once

#include <memory>

#include "../blas/blas.h"
#include "../device/device.h"
#include "../device/thread_pool.h"
#include "onednn_conv.h"

namespace bp {

class HostAllocator : public RawAllocator {
 public:
  void* allocate(size_t bytes) override;
  void deallocate(void* p, size_t bytes) override;
};

class CpuDevice : public Device {
 public:
  CpuDevice(const Blas* blas, int threads);
  const char* kind() const override { return "cpu"; }
  std::string description() const override;
  bool hostAddressable() const override { return true; }
  void setThreads(int threads) override { pool_.resize(threads); }
  int threads() const override { return pool_.size(); }
  bool useConvLibrary(bool on) override {
    onednnOn_ = on;
    return on && onednn_ != nullptr;
  }

  void* allocate(size_t bytes) override { return alloc_.allocate(bytes); }
  void release(void* p) override { alloc_.release(p); }
  CachingAllocator& allocator() override { return alloc_; }
  void upload(void* dst, const void* src, size_t bytes) override;
  void download(void* dst, const void* src, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  void fill(void* dst, DType t, i64 n, double value) override;
  void synchronize() override {}

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

  ThreadPool& pool() { return pool_; }
  const Blas& blas() const { return *blas_; }

 private:
  /** One GEMM, split into blocks fixed by (m, n, k) and run on the pool. */
  void gemmBlocked(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* A, i64 lda, const float* B, i64 ldb,
                   float beta, float* C, i64 ldc);
  /** C [n, n] = alpha·op(A)·op(A)ᵀ, op(A) [n, k] (A [k, n] when trans). */
  void gramBlocked(bool trans, i64 n, i64 k, float alpha, const float* A, i64 lda, float* C, i64 ldc);

  const Blas* blas_;
  HostAllocator raw_;
  CachingAllocator alloc_{&raw_};
  ThreadPool pool_;
  /** Plain convolution products by oneDNN where it is installed and faster; nullptr: conv.cc alone. */
  std::unique_ptr<OnednnConv> onednn_;
  bool onednnOn_ = true;
  /** Whether oneDNN ran this product (`call` on it returned true), counted. */
  template <class Call>
  bool byLibrary(Call call) {
    if (!onednn_ || !onednnOn_ || !call(*onednn_)) return false;
    counters.libraryConvolutions++;
    return true;
  }
};

/** Elements per piece of work below which a loop runs on the calling thread alone. */
constexpr i64 kGrain = 1 << 15;

/** C's lower triangle (j < i) from its upper one: a symmetric matrix [n, n] of which a syrk wrote half. */
void mirrorUpper(ThreadPool& pool, float* C, i64 n, i64 ldc);

/** A per-thread scratch buffer of at least `n` floats (grows, never shrinks). */
float* threadScratch(int slot, i64 n);

}  // namespace bp

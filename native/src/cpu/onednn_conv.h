// The plain convolution products — forward, input gradient (Jᵀ), weight gradient — by oneDNN's
// direct convolution kernels, where it is installed (Debian: libdnnl-dev to build, libdnnl2 to
// run). They are 1.2–2.4× faster than our im2col + GEMM on the benchmark's convolutions
// (docs/decisions.md); the per-sample and squared forms, Gram matrices and everything the cuda
// device shares stay ours (conv.cc). Found at run time by dlopen like the BLAS: a machine without
// oneDNN, or BACKPACK_CONV=im2col, runs conv.cc alone.
#pragma once

#include <memory>
#include <string>

#include "../device/thread_pool.h"
#include "../kernels/conv.h"

namespace bp {

class OnednnConv {
 public:
  /** For one device, or nullptr: built without oneDNN's headers, libdnnl.so.2 absent, or BACKPACK_CONV=im2col. */
  static std::unique_ptr<OnednnConv> create();
  /** "oneDNN 2.6.3" where create() can succeed, else "". */
  static std::string version();
  ~OnednnConv();

  // Each runs on the device's pool (chunks of samples, one thread each) and returns false, having
  // written nothing conv.cc will not overwrite, where the convolution is left to conv.cc: shapes
  // oneDNN runs slower (few input channels for the input gradient), sizes of zero, or shapes it refuses.
  bool forward(const ConvParams& p, ThreadPool& pool);
  bool inputJacT(const ConvParams& p, ThreadPool& pool);
  bool weightGrad(const ConvParams& p, ThreadPool& pool);

 private:
  struct Impl;
  explicit OnednnConv(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bp

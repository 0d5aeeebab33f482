// What the N-API hooks (napi/cuda_hooks.cc, built by g++ without CUDA headers) may ask of the
// cuda device: facts for tests and summaries, the TF32 switch, and cuBLAS's availability.
#pragma once

#include <cstdint>
#include <string>

#include "../device/device.h"

namespace bp {

struct CudaInfo {
  std::string name;
  int computeCapability = 0;
  bool tf32 = false;
  std::string cublasPath;
  int cublasVersion = 0;
  /** cudaMalloc / cudaFree calls the caching allocator made so far. */
  uint64_t rawMallocs = 0, rawFrees = 0;
  uint64_t memFree = 0, memTotal = 0;
};

/** Fills `info` when `d` is a cuda device; false otherwise. */
bool cudaInfoOf(Device& d, CudaInfo* info);
/** Switches TF32 GEMMs on or off; false when `d` is not a cuda device. */
bool cudaSetTf32(Device& d, bool on);
/** Waits for the device's stream; false when `d` is not a cuda device. */
bool cudaSynchronizeDevice(Device& d);
/** Sets the fused convolutions' workspace per chunk (floats; ≤ 0 restores the default); false when not cuda. */
bool cudaSetConvChunkFloats(Device& d, int64_t floats);
/** Whether cuBLAS loads here (without creating a device): its path, or "" with `error`. */
std::string cublasProbe(std::string* error);

}  // namespace bp

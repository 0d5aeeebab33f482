// Single-source helpers: kernel bodies in kernels/ are plain functions marked BP_HD, compiled by
// g++ for the cpu device's loops and by nvcc for the cuda device's grids (device/cpu_launch.h,
// cuda/launch.cuh). Nothing here may allocate, throw or touch the host/device boundary.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define BP_HD __host__ __device__ __forceinline__
#else
#define BP_HD inline
#endif

namespace bp {

using i64 = int64_t;

/** The largest index space a kernel takes (tensors of rank ≤ 8; a tile of rank r walks 2r dims). */
constexpr int kMaxDims = 16;

/** Element types of tensor data. Bool is one byte per element, as tfjs stores it (Uint8Array). */
enum class DType : uint8_t { F32 = 0, I32 = 1, Bool = 2 };

BP_HD int dtypeSize(DType t) { return t == DType::Bool ? 1 : 4; }

}  // namespace bp

// The cuda device: stream, memory, host copies, GEMMs (cuBLAS), and makeCudaDevice. The kernel
// families live in elementwise.cu, reduce.cu, shape_ops.cu, windows.cu and conv.cu.
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../device/space.h"
#include "cuda_device.h"
#include "launch.cuh"

namespace bp {

void cudaCheck(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  throw std::runtime_error(std::string("cuda device: ") + what + " failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

// ---- stream and raw memory ------------------------------------------------------------------------

CudaStream::CudaStream() { BP_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }

CudaStream::~CudaStream() {
  // Teardown never throws: the runtime may already be unloading at process exit.
  if (stream_) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

void* CudaStream::malloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it, the caching allocator trims and retries
    return nullptr;
  }
  BP_CUDA(e);
  return p;
}

void CudaStream::free(void* p) { cudaFree(p); }

void CudaStream::synchronize() { cudaStreamSynchronize(stream_); }

// ---- device -----------------------------------------------------------------------------------------

namespace {
void cublasCheck(const Cublas& c, int status, const char* what) {
  if (status != kCublasStatusSuccess) throw std::runtime_error(std::string("cuda device: ") + what + " failed: " + c.describe(status));
}
}  // namespace

CudaDevice::CudaDevice(const Cublas* cublas, bool tf32) : cublas_(cublas) {
  cudaDeviceProp prop;
  BP_CUDA(cudaGetDeviceProperties(&prop, 0));
  name_ = prop.name;
  cc_ = prop.major * 10 + prop.minor;
  cublasCheck(*cublas_, cublas_->create(&handle_), "cublasCreate");
  cublasCheck(*cublas_, cublas_->setStream(handle_, stream_.get()), "cublasSetStream");
  cublas_->getVersion(handle_, &cublasVersion_);
  setTf32(tf32);
}

CudaDevice::~CudaDevice() {
  cudaStreamSynchronize(stream_.get());
  if (handle_) cublas_->destroy(handle_);
}

void CudaDevice::setTf32(bool on) {
  cublasCheck(*cublas_, cublas_->setMathMode(handle_, on ? kCublasTf32TensorOpMath : kCublasDefaultMath), "cublasSetMathMode");
  tf32_ = on;
}

std::string CudaDevice::description() const {
  const int major = cublasVersion_ / 10000, minor = (cublasVersion_ / 100) % 100, patch = cublasVersion_ % 100;
  return name_ + " (sm_" + std::to_string(cc_) + ", cuBLAS " + std::to_string(major) + "." + std::to_string(minor) + "." +
         std::to_string(patch) + (tf32_ ? ", TF32" : ", FP32") + ")";
}

float* CudaDevice::scratch(i64 floats) {
  void* p = alloc_.allocate(static_cast<size_t>(std::max<i64>(1, floats)) * sizeof(float));
  if (!p) {
    throw std::runtime_error("out of cuda memory allocating " + std::to_string((static_cast<size_t>(floats) * 4) >> 20) +
                             " MiB of workspace (in use " + std::to_string(alloc_.stats().inUse >> 20) + " MiB)");
  }
  return static_cast<float*>(p);
}

void CudaDevice::upload(void* dst, const void* src, size_t bytes) {
  counters.uploads++;
  counters.uploadBytes += bytes;
  if (bytes == 0) return;
  // From pageable memory the call returns once the source is staged: the caller may free it.
  BP_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_.get()));
}

void CudaDevice::download(void* dst, const void* src, size_t bytes) {
  counters.downloads++;
  counters.downloadBytes += bytes;
  if (bytes == 0) return;
  BP_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_.get()));
  BP_CUDA(cudaStreamSynchronize(stream_.get()));
}

void CudaDevice::copy(void* dst, const void* src, size_t bytes) {
  if (dst == src || bytes == 0) return;
  BP_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_.get()));
}

void CudaDevice::fill(void* dst, DType t, i64 n, double value) {
  if (n <= 0) return;
  if (t == DType::Bool) {
    BP_CUDA(cudaMemsetAsync(dst, value != 0.0 ? 1 : 0, static_cast<size_t>(n), stream_.get()));
  } else if (value == 0.0) {
    BP_CUDA(cudaMemsetAsync(dst, 0, static_cast<size_t>(n) * 4, stream_.get()));
  } else if (t == DType::F32) {
    gpu::launch(stream_.get(), n, gpu::FillBody<float>{static_cast<float*>(dst), static_cast<float>(value)});
  } else {
    gpu::launch(stream_.get(), n, gpu::FillBody<int32_t>{static_cast<int32_t*>(dst), static_cast<int32_t>(value)});
  }
}

void CudaDevice::synchronize() { BP_CUDA(cudaStreamSynchronize(stream_.get())); }

// ---- GEMM -------------------------------------------------------------------------------------------

namespace {
int checkedInt(i64 v, const char* what) {
  if (v < 0 || v > 2147483647) throw std::runtime_error(std::string("cuda device: GEMM ") + what + " = " + std::to_string(v) + " exceeds cuBLAS's 32-bit range");
  return static_cast<int>(v);
}
}  // namespace

void CudaDevice::gemmStrided(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* A, i64 lda, i64 sA,
                             const float* B, i64 ldb, i64 sB, float beta, float* C, i64 ldc, i64 sC, i64 count) {
  if (m == 0 || n == 0 || count == 0) return;
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first, with n and m swapped.
  const int opA = ta ? kCublasOpT : kCublasOpN, opB = tb ? kCublasOpT : kCublasOpN;
  const int M = checkedInt(m, "m"), N = checkedInt(n, "n"), K = checkedInt(k, "k");
  const int LDA = checkedInt(std::max<i64>(1, lda), "lda"), LDB = checkedInt(std::max<i64>(1, ldb), "ldb"),
            LDC = checkedInt(std::max<i64>(1, ldc), "ldc");
  if (count == 1) {
    cublasCheck(*cublas_, cublas_->sgemm(handle_, opB, opA, N, M, K, &alpha, B, LDB, A, LDA, &beta, C, LDC), "cublasSgemm");
    return;
  }
  if (sC == 0) throw std::runtime_error("cuda device: a batched GEMM cannot write every batch into one C");
  cublasCheck(*cublas_,
              cublas_->sgemmStridedBatched(handle_, opB, opA, N, M, K, &alpha, B, LDB, sB, A, LDA, sA, &beta, C, LDC, sC,
                                           checkedInt(count, "batch count")),
              "cublasSgemmStridedBatched");
}

void CudaDevice::gemm(const GemmParams& g) {
  if (g.M == 0 || g.N == 0) return;
  Space b = g.batch;
  if (b.nd == 0) {
    b.nd = 1;
    b.shape[0] = 1;
    b.s0[0] = b.s1[0] = b.s2[0] = 0;
  }
  const i64 batches = numel(b);
  if (batches == 0) return;
  if (g.K == 0) {
    // An empty sum: C = beta·C (0 for a fresh output).
    gpu::launch(stream(), batches * g.M * g.N, gpu::ScaleBlocks{g.C, g.M, g.N, g.ldc, g.beta, b});
    return;
  }
  collapse(b, 3);
  // The innermost batch dim is one strided-batched call; any others loop here.
  const int inner = b.nd - 1;
  const i64 count = b.shape[inner];
  const i64 outer = batches / count;
  for (i64 o = 0; o < outer; o++) {
    const float* A = g.A + offsetPrefix(o, b, inner, b.s0);
    const float* B = g.B + offsetPrefix(o, b, inner, b.s1);
    float* C = g.C + offsetPrefix(o, b, inner, b.s2);
    gemmStrided(g.transA, g.transB, g.M, g.N, g.K, g.alpha, A, g.lda, b.s0[inner], B, g.ldb, b.s1[inner], g.beta, C, g.ldc,
                b.s2[inner], count);
  }
}

// ---- creation ---------------------------------------------------------------------------------------

std::unique_ptr<Device> makeCudaDevice(std::string* error) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    if (error) {
      *error = e != cudaSuccess ? std::string("no usable NVIDIA GPU (") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + ")"
                                : "no usable NVIDIA GPU (no CUDA device visible; CUDA_VISIBLE_DEVICES=" +
                                      std::string(std::getenv("CUDA_VISIBLE_DEVICES") ? std::getenv("CUDA_VISIBLE_DEVICES") : "unset") + ")";
    }
    return nullptr;
  }
  const Cublas* cublas = loadCublas(error);
  if (!cublas) return nullptr;
  try {
    BP_CUDA(cudaSetDevice(0));
    const char* tf32 = std::getenv("BACKPACK_TF32");
    return std::make_unique<CudaDevice>(cublas, tf32 && *tf32 && std::strcmp(tf32, "0") != 0);
  } catch (const std::exception& ex) {
    if (error) *error = ex.what();
    return nullptr;
  }
}

}  // namespace bp

// ---- hooks for N-API (cuda_api.h) ------------------------------------------------------------------

#include "cuda_api.h"

namespace bp {

bool cudaInfoOf(Device& d, CudaInfo* info) {
  auto* c = dynamic_cast<CudaDevice*>(&d);
  if (!c) return false;
  info->name = c->name();
  info->computeCapability = c->computeCapability();
  info->tf32 = c->tf32();
  info->cublasPath = c->cublas().path;
  info->cublasVersion = c->cublasVersion();
  info->rawMallocs = c->raw().mallocs();
  info->rawFrees = c->raw().frees();
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) == cudaSuccess) {
    info->memFree = free;
    info->memTotal = total;
  }
  return true;
}

bool cudaSetTf32(Device& d, bool on) {
  auto* c = dynamic_cast<CudaDevice*>(&d);
  if (!c) return false;
  c->setTf32(on);
  return true;
}

bool cudaSynchronizeDevice(Device& d) {
  auto* c = dynamic_cast<CudaDevice*>(&d);
  if (!c) return false;
  c->synchronize();
  return true;
}

bool cudaSetConvChunkFloats(Device& d, int64_t floats) {
  auto* c = dynamic_cast<CudaDevice*>(&d);
  if (!c) return false;
  c->setConvChunkFloats(floats);
  return true;
}

std::string cublasProbe(std::string* error) {
  const Cublas* c = loadCublas(error);
  return c ? c->path : "";
}

}  // namespace bp

// cuBLAS, opened at run time (dlopen) with hand-declared prototypes: the addon builds without
// cuBLAS headers or libraries and loads on machines without CUDA; only `init('cuda')` looks for
// the library. Order: BACKPACK_CUBLAS=/path/libcublas.so.N, then libcublas.so.13 and .so.12 by
// name (the loader's paths: LD_LIBRARY_PATH, ld.so.cache), then the CUDA toolkit's folders
// ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda).
//
// Handles and streams are plain pointers here (cublasHandle_t, cudaStream_t): the ABI is the
// same, and cuBLAS's own (static) runtime shares our streams and device pointers through the
// driver's primary context.
#pragma once

#include <string>

namespace bp {

/** cublasOperation_t, cublasMath_t and cublasStatus_t values (cublas_api.h). */
enum CublasOp : int { kCublasOpN = 0, kCublasOpT = 1 };
enum CublasMath : int { kCublasDefaultMath = 0, kCublasPedanticMath = 2, kCublasTf32TensorOpMath = 3 };
constexpr int kCublasStatusSuccess = 0;

struct Cublas {
  using Handle = void*;
  int (*create)(Handle*) = nullptr;
  int (*destroy)(Handle) = nullptr;
  int (*setStream)(Handle, void* stream) = nullptr;
  int (*setMathMode)(Handle, int mode) = nullptr;
  int (*getVersion)(Handle, int* version) = nullptr;
  int (*sgemm)(Handle, int transa, int transb, int m, int n, int k, const float* alpha, const float* A, int lda,
               const float* B, int ldb, const float* beta, float* C, int ldc) = nullptr;
  int (*sgemmStridedBatched)(Handle, int transa, int transb, int m, int n, int k, const float* alpha, const float* A,
                             int lda, long long strideA, const float* B, int ldb, long long strideB, const float* beta,
                             float* C, int ldc, long long strideC, int batchCount) = nullptr;
  /** Optional (cuBLAS ≥ 11.4). */
  const char* (*statusString)(int status) = nullptr;
  /** The file dlopen resolved, e.g. /usr/local/cuda/lib64/libcublas.so.13. */
  std::string path;

  /** "CUBLAS_STATUS_…" for a status code. */
  std::string describe(int status) const;
};

/** The process's cuBLAS (loaded once), or nullptr with `error` naming every library tried. */
const Cublas* loadCublas(std::string* error);

}  // namespace bp

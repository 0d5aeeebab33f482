// cuBLAS for the host emulation build: reference column-major GEMMs (float, k in order), with
// cuBLAS's contract that C is not read when beta is 0 (the emulated memory starts as NaN).
#include <string>

#include "../cublas.h"

namespace bp {
namespace {

int create(Cublas::Handle* h) {
  *h = new int(0);
  return kCublasStatusSuccess;
}
int destroy(Cublas::Handle h) {
  delete static_cast<int*>(h);
  return kCublasStatusSuccess;
}
int setStream(Cublas::Handle, void*) { return kCublasStatusSuccess; }
int setMathMode(Cublas::Handle h, int mode) {
  *static_cast<int*>(h) = mode;
  return kCublasStatusSuccess;
}
int getVersion(Cublas::Handle, int* v) {
  *v = 130000;
  return kCublasStatusSuccess;
}

int sgemm(Cublas::Handle, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, const float* B,
          int ldb, const float* beta, float* C, int ldc) {
  constexpr int kInvalidValue = 7;
  if (m < 0 || n < 0 || k < 0 || ldc < m || lda < (ta ? k : m) || ldb < (tb ? n : k)) return kInvalidValue;
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < m; i++) {
      float acc = 0.0f;
      for (int l = 0; l < k; l++) {
        const float a = ta ? A[l + static_cast<long>(i) * lda] : A[i + static_cast<long>(l) * lda];
        const float b = tb ? B[j + static_cast<long>(l) * ldb] : B[l + static_cast<long>(j) * ldb];
        acc += a * b;
      }
      float& c = C[i + static_cast<long>(j) * ldc];
      c = *beta == 0.0f ? *alpha * acc : *alpha * acc + *beta * c;
    }
  }
  return kCublasStatusSuccess;
}

int sgemmStridedBatched(Cublas::Handle h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                        long long sA, const float* B, int ldb, long long sB, const float* beta, float* C, int ldc, long long sC,
                        int count) {
  for (int b = 0; b < count; b++) {
    const int st = sgemm(h, ta, tb, m, n, k, alpha, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, ldc);
    if (st != kCublasStatusSuccess) return st;
  }
  return kCublasStatusSuccess;
}

const char* statusString(int status) { return status == 0 ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE (emulated)"; }

}  // namespace

const Cublas* loadCublas(std::string*) {
  static Cublas c = [] {
    Cublas x;
    x.create = create;
    x.destroy = destroy;
    x.setStream = setStream;
    x.setMathMode = setMathMode;
    x.getVersion = getVersion;
    x.sgemm = sgemm;
    x.sgemmStridedBatched = sgemmStridedBatched;
    x.statusString = statusString;
    x.path = "emulated cuBLAS (host reference GEMM)";
    return x;
  }();
  return &c;
}

}  // namespace bp

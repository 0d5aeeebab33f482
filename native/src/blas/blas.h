// The one wrapper around the host GEMM library, found at run time by dlopen (never linked, never
// hand-written): BACKPACK_BLAS=/path/lib.so (a CBLAS, or oneDNN's dnnl_sgemm), else MKL, else
// OpenBLAS or BLIS, whichever has the wider kernel set for this CPU (docs/decisions.md). The library's own threading is pinned to one
// thread per call: the cpu device splits large GEMMs over its own pool, in blocks fixed by the
// shapes alone, so results do not depend on the number of threads.
#pragma once

#include <string>

#include "../common/hd.h"

namespace bp {

class Blas {
 public:
  /** Row-major C = alpha·op(A)·op(B) + beta·C. Safe to call from several threads at once. */
  virtual void sgemm(bool transA, bool transB, i64 m, i64 n, i64 k, float alpha, const float* A, i64 lda, const float* B,
                     i64 ldb, float beta, float* C, i64 ldc) const = 0;
  /**
   * Row-major C = alpha·A·Aᵀ + beta·C for A [n, k] (trans: alpha·AᵀA for A [k, n]), only C's upper
   * triangle (j ≥ i) written: half a GEMM's work for Gram matrices. The default is that GEMM (which
   * writes all of C).
   */
  virtual void ssyrkUpper(bool trans, i64 n, i64 k, float alpha, const float* A, i64 lda, float beta, float* C, i64 ldc) const {
    sgemm(trans, !trans, n, n, k, alpha, A, lda, A, lda, beta, C, ldc);
  }
  /**
   * Row-major double C = alpha·op(A)·op(B) + beta·C, where the library has one (every CBLAS does;
   * oneDNN's sgemm alone does not): false, and C untouched, where it has not.
   */
  virtual bool dgemm(bool transA, bool transB, i64 m, i64 n, i64 k, double alpha, const double* A, i64 lda,
                     const double* B, i64 ldb, double beta, double* C, i64 ldc) const {
    return false;
  }
  virtual bool hasDgemm() const { return false; }
  virtual ~Blas() = default;
  /** e.g. "OpenBLAS 0.3.21 (Haswell)". */
  std::string description;
  /** Kernel set in use: 0 generic, 1 AVX2/FMA, 2 AVX-512, 3 MKL (chooses its own). */
  int tier = 0;
  /** The file dlopen resolved. */
  std::string path;
};

/** The process's BLAS (loaded once), or nullptr with `error` saying what was tried and how to install one. */
const Blas* loadBlas(std::string* error);

}  // namespace bp

/*
 * One GEMM shape, timed through a BLAS opened by path, one thread: row-major C[M,N] (+)= op(A)·op(B)
 * in float32 or float64, optionally cut into column blocks of width B as the native device cuts
 * them (one BLAS call per block). Best of R runs. For the block-size and orientation decisions in
 * docs/decisions.md (2026-12-02).
 *   cc -O2 -o /tmp/gemm-shapes bench/blas/gemm-shapes.c -ldl
 *   BLIS_ARCH_TYPE=skx /tmp/gemm-shapes libblis.so.4 s M N K transA transB reps [block]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
typedef void (*dgemm_t)(int, int, int, int, int, int, double, const double*, int, const double*, int, double, double*, int);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc < 9) {
    fprintf(stderr, "usage: %s LIB s|d M N K transA transB reps [block]\n", argv[0]);
    return 2;
  }
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  void (*openblasThreads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
  void (*blisThreads)(long) = (void (*)(long))dlsym(h, "bli_thread_set_num_threads");
  if (openblasThreads) openblasThreads(1);
  if (blisThreads) blisThreads(1);
  const int dbl = argv[2][0] == 'd';
  const int M = atoi(argv[3]), N = atoi(argv[4]), K = atoi(argv[5]), ta = atoi(argv[6]), tb = atoi(argv[7]), reps = atoi(argv[8]);
  const int block = argc > 9 ? atoi(argv[9]) : N;
  const size_t es = dbl ? 8 : 4;
  char* A = malloc(es * M * K);
  char* B = malloc(es * K * N);
  char* C = calloc((size_t)M * N, es);
  for (long i = 0; i < (long)M * K; i++) dbl ? (((double*)A)[i] = i % 7 * 0.1) : (((float*)A)[i] = i % 7 * 0.1f);
  for (long i = 0; i < (long)K * N; i++) dbl ? (((double*)B)[i] = i % 5 * 0.1) : (((float*)B)[i] = i % 5 * 0.1f);
  const int lda = ta ? M : K, ldb = tb ? K : N;
  sgemm_t sg = (sgemm_t)dlsym(h, "cblas_sgemm");
  dgemm_t dg = (dgemm_t)dlsym(h, "cblas_dgemm");
  double best = 1e9;
  for (int r = 0; r < reps; r++) {
    const double t0 = now();
    for (int lo = 0; lo < N; lo += block) {
      const int len = N - lo < block ? N - lo : block;
      const long bOff = tb ? (long)lo * ldb : lo;  // the block's first column of op(B)
      if (dbl) dg(101, ta ? 112 : 111, tb ? 112 : 111, M, len, K, 1, (double*)A, lda, (double*)B + bOff, ldb, 0, (double*)C + lo, N);
      else sg(101, ta ? 112 : 111, tb ? 112 : 111, M, len, K, 1, (float*)A, lda, (float*)B + bOff, ldb, 0, (float*)C + lo, N);
    }
    const double t = now() - t0;
    if (t < best) best = t;
  }
  printf("%cgemm M=%d N=%d K=%d transA=%d transB=%d block=%d: %.3f ms, %.1f GFLOP/s\n", dbl ? 'd' : 's', M, N, K, ta, tb, block, best * 1e3,
         2.0 * M * N * K / best / 1e9);
  return 0;
}

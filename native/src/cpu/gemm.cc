// GEMMs on the cpu: one BLAS call per block, blocks fixed by the shapes alone (never by the
// thread count), so a product is computed by the same calls however many threads run them.
#include <algorithm>

#include "../device/space.h"
#include "../kernels/elementwise.h"
#include "cpu_device.h"

namespace bp {
namespace {

/** How a GEMM of this size is cut: along n (columns of C) or m (rows), into `blocks` pieces of `size`. */
struct Split {
  bool alongN;
  i64 blocks, size;
};

/**
 * `dim` cut into about `wanted` blocks: a power of two of them, at most 16, so that 2, 4, …
 * threads share them evenly; sizes multiples of 16, which keep BLAS's micro-kernels on full tiles.
 * (alongN is left to the caller.)
 */
Split cutInto(i64 dim, i64 wanted) {
  i64 blocks = std::clamp<i64>(wanted, 1, 16);
  while (blocks & (blocks - 1)) blocks &= blocks - 1;
  const i64 size = std::max<i64>(16, ((dim + blocks - 1) / blocks + 15) / 16 * 16);
  return {true, (dim + size - 1) / size, size};
}

Split splitFor(i64 m, i64 n, i64 k) {
  // NOTE: every block is a BLAS call that packs the shared operand again: below ~16 MFLOP a block
  // runs far from peak ([128,784]·[784,256] in 12 blocks of 32 columns: 96 GFLOP/s, in 2 blocks
  // 150, whole 163; BLIS skx, one thread, docs/decisions.md). A power of two of them, at most 16,
  // so that 2, 4, … threads share them evenly.
  // Nor narrower than 128 ([128,3136]·[3136,1024]: 64 columns 94 GFLOP/s, 128 or more 106–113).
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const bool alongN = n >= m;
  const i64 dim = alongN ? n : m;
  const Split cut = cutInto(dim, std::min<i64>(static_cast<i64>(flops / 16e6), dim / 128));
  return {alongN, cut.blocks, cut.size};
}

/** Rows per block of a Gram matrix: at most 8 blocks, multiples of 16 (full micro-kernel tiles). */
i64 gramBlockRows(i64 n) { return std::max<i64>(64, ((n + 7) / 8 + 15) / 16 * 16); }

/** C [m, n] (row stride ldc) = T [n, m]ᵀ, in tiles of 32 × 32 (both sides stay in cache), over the pool. */
void transposeInto(ThreadPool& pool, const float* T, i64 n, i64 m, float* C, i64 ldc) {
  constexpr i64 kTile = 32;
  pool.parallelFor((n + kTile - 1) / kTile, std::max<i64>(1, kGrain / (kTile * m)), [&](i64 a, i64 b) {
    for (i64 i0 = a * kTile; i0 < std::min(n, b * kTile); i0 += kTile) {
      const i64 i1 = std::min(n, i0 + kTile);
      for (i64 j0 = 0; j0 < m; j0 += kTile) {
        const i64 j1 = std::min(m, j0 + kTile);
        for (i64 j = j0; j < j1; j++)
          for (i64 i = i0; i < i1; i++) C[j * ldc + i] = T[i * m + j];
      }
    }
  });
}

}  // namespace

void mirrorUpper(ThreadPool& pool, float* C, i64 n, i64 ldc) {
  pool.parallelFor(n, std::max<i64>(1, kGrain / std::max<i64>(1, n)), [&](i64 a, i64 b) {
    for (i64 i = a; i < b; i++)
      for (i64 j = 0; j < i; j++) C[i * ldc + j] = C[j * ldc + i];
  });
}

/**
 * C = alpha·op(A)·op(A)ᵀ (a Gram matrix: KFAC's and KFLR's input factors, XᵀX) by block rows of
 * the upper triangle — a symmetric rank-k update on each diagonal block, a GEMM right of it — and
 * the lower triangle mirrored: about half a GEMM's work. Blocks are fixed by the shape.
 */
void CpuDevice::gramBlocked(bool trans, i64 n, i64 k, float alpha, const float* A, i64 lda, float* C, i64 ldc) {
  const i64 rows = gramBlockRows(n);
  pool_.run((n + rows - 1) / rows, [&](i64 b) {
    const i64 i0 = b * rows, i1 = std::min(n, i0 + rows);
    // Row i of op(A) starts at A + i·lda (A [n, k]) or A + i (trans: A [k, n]).
    const float* Ai = trans ? A + i0 : A + i0 * lda;
    const float* Aj = trans ? A + i1 : A + i1 * lda;
    blas_->ssyrkUpper(trans, i1 - i0, k, alpha, Ai, lda, 0.0f, C + i0 * ldc + i0, ldc);
    if (i1 < n) blas_->sgemm(trans, !trans, i1 - i0, n - i1, k, alpha, Ai, lda, Aj, lda, 0.0f, C + i0 * ldc + i1, ldc);
  });
  mirrorUpper(pool_, C, n, ldc);
}

void CpuDevice::gemmBlocked(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* A, i64 lda, const float* B,
                            i64 ldb, float beta, float* C, i64 ldc) {
  // NOTE: a short, wide product with a large right operand — a Linear layer's forward and input
  // gradient on a shard, e.g. 2c2d's [128, 3136]·[3136, 1024] — runs faster as its transpose
  // Cᵀ = op(B)ᵀ·op(A)ᵀ, transposed into C after, if the transposed product is cut into few tall
  // blocks (≥ 512 rows; blocks of 128 rows, as splitFor cuts it, lose the gain). In the engine, one
  // thread, min of 15: 7.7 → 6.4 ms on that product, 8.1 → 6.6 on [128, 1024]·[1024, 3136], 5.4 →
  // 3.7 at M = 64; two threads 4.3 → 3.3, 4.3 → 3.2, 2.7 → 1.7. No gain once op(B) is below ~1 Mi
  // elements (bench/blas/gemm-shapes.c, BLIS skx; docs/decisions.md).
  if (beta == 0.0f && m <= 256 && n >= 4 * m && k * n >= (i64(2) << 20)) {
    float* T = threadScratch(6, n * m);  // the calling thread's; slots 0–5 belong to other kernels
    const Split cut = cutInto(n, n / 512);
    pool_.run(cut.blocks, [&](i64 b) {
      const i64 lo = b * cut.size, len = std::min(cut.size, n - lo);
      const float* Bb = tb ? B + lo * ldb : B + lo;  // rows [lo, lo + len) of op(B)ᵀ
      blas_->sgemm(!tb, !ta, len, m, k, alpha, Bb, ldb, A, lda, 0.0f, T + lo * m, m);
    });
    transposeInto(pool_, T, n, m, C, ldc);
    return;
  }
  const Split s = splitFor(m, n, k);
  pool_.run(s.blocks, [&](i64 b) {
    const i64 lo = b * s.size, len = std::min(s.size, (s.alongN ? n : m) - lo);
    if (s.alongN) {
      const float* Bb = tb ? B + lo * ldb : B + lo;
      blas_->sgemm(ta, tb, m, len, k, alpha, A, lda, Bb, ldb, beta, C + lo, ldc);
    } else {
      const float* Ab = ta ? A + lo : A + lo * lda;
      blas_->sgemm(ta, tb, len, n, k, alpha, Ab, lda, B, ldb, beta, C + lo * ldc, ldc);
    }
  });
}

void CpuDevice::gemm(const GemmParams& g) {
  const i64 batches = numel(g.batch);
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) {
    // An empty sum: C = beta·C (0 for a fresh output).
    for (i64 b = 0; b < batches; b++) {
      float* C = g.C + offsetOf(b, g.batch, g.batch.s2);
      for (i64 i = 0; i < g.M; i++)
        for (i64 j = 0; j < g.N; j++) C[i * g.ldc + j] = g.beta == 0.0f ? 0.0f : g.beta * C[i * g.ldc + j];
    }
    return;
  }
  // op(A)·op(A)ᵀ of one tensor with itself (matMul(x, x, true, false) and the like): a Gram matrix.
  if (batches == 1 && g.A == g.B && g.lda == g.ldb && g.transA != g.transB && g.M == g.N && g.beta == 0.0f) {
    gramBlocked(g.transA, g.M, g.K, g.alpha, g.A, g.lda, g.C, g.ldc);
    return;
  }
  if (batches == 1) {
    gemmBlocked(g.transA, g.transB, g.M, g.N, g.K, g.alpha, g.A, g.lda, g.B, g.ldb, g.beta, g.C, g.ldc);
    return;
  }
  // Many products: one BLAS call each, spread over the pool.
  pool_.run(batches, [&](i64 b) {
    blas_->sgemm(g.transA, g.transB, g.M, g.N, g.K, g.alpha, g.A + offsetOf(b, g.batch, g.batch.s0), g.lda,
                 g.B + offsetOf(b, g.batch, g.batch.s1), g.ldb, g.beta, g.C + offsetOf(b, g.batch, g.batch.s2), g.ldc);
  });
}

}  // namespace bp

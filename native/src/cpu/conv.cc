// Fused convolutions on the cpu (kernels/conv.h). Samples are unfolded a chunk at a time into a
// thread's scratch (it stays in cache) and multiplied there, so neither the unfolded shard nor the
// per-sample weight Jacobians that are only squared and summed are ever materialised.
//
// A chunk holds R samples side by side ([C·K, R·P]), R chosen from the shapes so that a GEMM has
// at least ~512 columns: small images (P = 36 in 3c3d's last conv) then still run as large,
// efficient products. Sums over samples are accumulated per fixed group of chunks and the groups
// added in order: results never depend on the number of threads.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../kernels/conv.h"
#include "../kernels/windows.h"
#include "cpu_device.h"

namespace bp {
namespace {

/** Samples per chunk: ≥ 512 GEMM columns where the scratch ([C·K, R·P], ≤ 4 Mi floats) allows. */
i64 chunkSamples(const ConvDims& d, i64 n) {
  const i64 wanted = std::max<i64>(1, (512 + d.P - 1) / d.P);
  const i64 fits = std::max<i64>(1, (i64(4) << 20) / std::max<i64>(1, d.CK * d.P));
  return std::min({wanted, fits, std::max<i64>(1, n)});
}

/**
 * The rows of a window geometry, for im2col and col2im without the per-element index map (the
 * generic form in kernels/windows.h, which cost as much as the GEMM on 2c2d's second convolution):
 * for kernel position k, each output row o (every output position but the last dim's: o·L is its
 * first column) reads one input row at a fixed offset, so its columns ol ∈ [lo, hi) map to the
 * input elements start + ol·sL of the plane and the others to padding; `inside` is false where the
 * whole row is padding. Rows come in increasing o.
 */
struct WindowRows {
  const WindowParams& w;
  int nd, last;
  i64 L, inL, sL, dL, pL, outer;
  i64 inStride[3] = {1, 1, 1};

  explicit WindowRows(const WindowParams& wp)
      : w(wp), nd(wp.nd), last(wp.nd - 1), L(wp.out[last]), inL(wp.in[last]), sL(wp.stride[last]), dL(wp.dilation[last]),
        pL(wp.padLo[last]), outer(1) {
    for (int i = 0; i < last; i++) outer *= w.out[i];
    for (int i = nd - 2; i >= 0; i--) inStride[i] = inStride[i + 1] * w.in[i + 1];
  }

  /** fn(o, inside, start, lo, hi) for every output row of kernel position k. */
  template <class RowFn>
  void forEach(i64 k, RowFn fn) const {
    i64 kk[3] = {0, 0, 0};
    for (i64 rest = k, i = nd - 1; i >= 0; i--) {
      kk[i] = rest % w.kernel[i];
      rest /= w.kernel[i];
    }
    // Output columns [lo, hi) of a row read inside the input row: ol·sL + off ∈ [0, inL).
    const i64 off = kk[last] * dL - pL;
    const i64 lo = std::min(L, std::max<i64>(0, (-off + sL - 1) / sL));
    const i64 hi = std::max(lo, std::min(L, inL - off > 0 ? (inL - off + sL - 1) / sL : 0));
    if (nd <= 2) {
      // One or no outer dimension (every 1-D and 2-D window): rows step by the stride, with no
      // division per row (the general loop's div/mod per row cost more than its 14-float copy).
      const i64 step = nd == 2 ? w.stride[0] : 0, in0 = nd == 2 ? w.in[0] : 1;
      i64 at = nd == 2 ? kk[0] * w.dilation[0] - w.padLo[0] : 0;
      for (i64 o = 0; o < outer; o++, at += step) fn(o, at >= 0 && at < in0, at * inStride[0] * (nd == 2) + off, lo, hi);
      return;
    }
    for (i64 o = 0; o < outer; o++) {
      i64 base = 0;
      bool inside = true;
      for (i64 rest = o, i = last - 1; i >= 0; i--) {
        const i64 at = (rest % w.out[i]) * w.stride[i] - w.padLo[i] + kk[i] * w.dilation[i];
        rest /= w.out[i];
        inside = inside && at >= 0 && at < w.in[i];
        base += at * inStride[i];
      }
      fn(o, inside, base + off, lo, hi);
    }
  }
};

/**
 * Unfolds samples [n0, n0 + R) of x ([n, C, S]) into U [C·K, R·P] (columns layout): element
 * (c, k) of sample r at column r·P + p, row by row (WindowRows): a contiguous copy per output row
 * for stride 1, a strided one otherwise.
 */
void unfoldChunk(const ConvParams& p, const ConvDims& d, i64 n0, i64 R, float* U) {
  const WindowRows rows(p.w);
  const i64 L = rows.L, sL = rows.sL;
  for (i64 r = 0; r < R; r++) {
    for (i64 c = 0; c < p.C; c++) {
      const float* plane = p.x + ((n0 + r) * p.C + c) * d.S;
      for (i64 k = 0; k < d.K; k++) {
        float* dst = U + (c * d.K + k) * R * d.P + r * d.P;
        rows.forEach(k, [&](i64 o, bool inside, i64 start, i64 lo, i64 hi) {
          // NOTE: plain loops, not memcpy/memset: rows are short (14 floats on 2c2d's second
          // convolution), and a library call per row cost more than the copy (perf: memmove 7 %).
          float* row = dst + o * L;
          if (!inside) {
            for (i64 ol = 0; ol < L; ol++) row[ol] = 0.0f;
            return;
          }
          const float* src = plane + start;
          for (i64 ol = 0; ol < lo; ol++) row[ol] = 0.0f;
          if (sL == 1) {
            for (i64 ol = lo; ol < hi; ol++) row[ol] = src[ol];
          } else {
            for (i64 ol = lo; ol < hi; ol++) row[ol] = src[ol * sL];
          }
          for (i64 ol = hi; ol < L; ol++) row[ol] = 0.0f;
        });
      }
    }
  }
}

/**
 * The transpose: folds columns [C·K, R·P] (rows m0 … m0 + R of the chunk) back onto planes
 * y [m, C, S], row by row — a contiguous add per output row for stride 1 — in the order of the
 * index-map fold (kernel position, then column), so the sums are bitwise those of foldPlane.
 */
void foldChunk(const ConvParams& p, const ConvDims& d, const float* cols, i64 m0, i64 R) {
  const WindowRows rows(p.w);
  const i64 L = rows.L, sL = rows.sL;
  for (i64 r = 0; r < R; r++) {
    for (i64 c = 0; c < p.C; c++) {
      float* plane = p.y + ((m0 + r) * p.C + c) * d.S;
      std::fill(plane, plane + d.S, 0.0f);
      for (i64 k = 0; k < d.K; k++) {
        const float* src = cols + (c * d.K + k) * R * d.P + r * d.P;
        rows.forEach(k, [&](i64 o, bool inside, i64 start, i64 lo, i64 hi) {
          if (!inside) return;
          const float* row = src + o * L;
          float* dst = plane + start;
          if (sL == 1) {
            for (i64 ol = lo; ol < hi; ol++) dst[ol] += row[ol];
          } else {
            for (i64 ol = lo; ol < hi; ol++) dst[ol * sL] += row[ol];
          }
        });
      }
    }
  }
}

/** Gathers rows [m0, m0 + R) of V ([m, O, P]) into Vc [O, R·P] (the columns layout of the outputs). */
void gatherRows(const float* V, const ConvDims& d, i64 O, i64 m0, i64 R, float* Vc) {
  for (i64 r = 0; r < R; r++) {
    const float* src = V + (m0 + r) * O * d.P;
    for (i64 o = 0; o < O; o++) std::memcpy(Vc + o * R * d.P + r * d.P, src + o * d.P, static_cast<size_t>(d.P) * sizeof(float));
  }
}

/**
 * Sums over samples: groups of consecutive chunks, each with a partial of `width` values, added in
 * group order. The count depends on the shapes alone (so results do not depend on the threads):
 * at most 16 groups (parallel enough for 16 threads; more only cost memory traffic) and 64 Mi values.
 */
struct Groups {
  i64 chunksPerGroup, count;
};

constexpr i64 kMaxGroups = 16;

Groups groupsFor(i64 chunks, i64 width) {
  const i64 maxCount = std::clamp<i64>((i64(64) << 20) / std::max<i64>(1, width), 1, kMaxGroups);
  const i64 per = std::max<i64>(1, (chunks + maxCount - 1) / maxCount);
  return {per, (chunks + per - 1) / per};
}

/**
 * Zeroed partials for `count` groups × `width`, in the calling thread's scratch: reused across calls,
 * because a fresh page costs ~10 µs on our VMs (a variance of a 784×256 Linear layer spent most of
 * its time faulting in new partials).
 */
template <class T>
T* groupPartials(i64 count, i64 width) {
  T* partials = reinterpret_cast<T*>(threadScratch(2, count * width * i64(sizeof(T) / sizeof(float))));
  std::fill(partials, partials + count * width, T(0));
  return partials;
}

/** out[j] = Σ_g partials[g][j], groups in order. */
void sumGroups(ThreadPool& pool, const float* partials, i64 count, i64 width, float* out) {
  pool.parallelFor(width, kGrain, [&](i64 a, i64 b) {
    for (i64 j = a; j < b; j++) {
      float acc = partials[j];
      for (i64 g = 1; g < count; g++) acc += partials[g * width + j];
      out[j] = acc;
    }
  });
}

/**
 * Σ (J − s) and Σ (J − s)² of output row o over every (n, v) into y1[j], y2[j] (s: shiftRow, or 0
 * where it is null), accumulated in the double scratch s1, s2 [C].
 */
void outerProductCentredRow(const ConvParams& p, i64 o, const float* shiftRow, float* y1, float* y2, double* s1, double* s2) {
  const i64 O = p.O, C = p.C;
  std::fill(s1, s1 + C, 0.0);
  std::fill(s2, s2 + C, 0.0);
  for (i64 n = 0; n < p.n; n++) {
    const float* x = p.x + n * C;
    for (i64 v = 0; v < p.v; v++) {
      const float g = p.V[(v * p.n + n) * O + o];
      // As BatchGrad makes J: the float product, then centred in double.
      if (shiftRow) {
        for (i64 j = 0; j < C; j++) {
          const double dj = static_cast<double>(g * x[j]) - static_cast<double>(shiftRow[j]);
          s1[j] += dj;
          s2[j] += dj * dj;
        }
      } else {
        for (i64 j = 0; j < C; j++) {
          const double dj = static_cast<double>(g * x[j]);
          s1[j] += dj;
          s2[j] += dj * dj;
        }
      }
    }
  }
  for (i64 j = 0; j < C; j++) {
    y1[j] = static_cast<float>(s1[j]);
    y2[j] = static_cast<float>(s2[j]);
  }
}

/**
 * The same centred squares by two GEMMs where the BLAS has dgemm: with a_n = Σ_v V_vn,
 * â_n = Σ_v V_vn², m = v·n samples and the shift s,
 *   Σ (J − s)  = Σ_n a_n x_nᵀ − m·s,     Σ (J − s)² = Σ_n â_n (x_n²)ᵀ − 2 s ∘ Σ_n a_n x_nᵀ + m·s².
 * Σ a x is a double GEMM: its error, times 2s, lands in Σ (J − s)², so it must be small next to
 * that. Σ â x² is a float GEMM: its terms are ≥ 0, so its error is a few float roundings of
 * Σ J² = Σ (J − s)² + m·s², and a row whose elements all have m·s² ≤ 4·Σ (J − s)² keeps that
 * error within 5× of float round-off of its own result (an sgemm here: 0.51 ms against 1.01 for
 * the dgemm, [256,128]ᵀ·[128,784], bench/blas/gemm-shapes.c, BLIS skx, one thread).
 * Rows beyond that ratio are recomputed by the loop (float products, centred in double), and so is
 * the other difference: this uses the exact products g·x where BatchGrad (and the loop below) has
 * their float roundings fl(g·x); the two definitions of J differ by ~1e-7·|J|, which matters only
 * where the spread of J is small next to its mean. The result then equals the per-sample rows' own
 * variance to float round-off everywhere. Typical gradients are far below that ratio;
 * test/reduce/variance-accuracy.test.ts has data where every row is above it.
 * In Moments mode the shift is not an input: it is Σ a x / m rounded to float, and y = [s; S1; S2].
 * A 784×256 layer at n = 128: 8.4 ms on the loop alone, ~4 ms by two dgemms (1 thread). Row
 * blocks are fixed by the shapes: thread-count independent. False: the BLAS has no dgemm.
 */
bool outerProductCentredDgemm(ThreadPool& pool, const Blas& blas, const ConvParams& p, SquaresMode mode) {
  const i64 O = p.O, C = p.C, n = p.n;
  if (n == 0 || !blas.hasDgemm()) return false;
  // Moments: the shift is the mean, rounded to float, from the first GEMM; y = [s; S1; S2].
  const bool moments = mode == SquaresMode::Moments;
  float* const yShift = moments ? p.y : nullptr;
  float* const y1 = p.y + (moments ? O * C : 0);
  float* const y2 = y1 + O * C;
  // The calling thread's slot 3 (pool threads use 0–2): a [n, O], x [n, C] in double, then
  // â [n, O], x² [n, C] in float.
  double* a = reinterpret_cast<double*>(threadScratch(3, 2 * n * (O + C) + n * (O + C)));
  double* xs = a + n * O;
  float* aSq = reinterpret_cast<float*>(xs + n * C);
  float* xSq = aSq + n * O;
  for (i64 i = 0; i < n; i++) {
    for (i64 o = 0; o < O; o++) {
      double s1 = 0.0, s2 = 0.0;
      for (i64 v = 0; v < p.v; v++) {
        const double g = p.V[(v * n + i) * O + o];
        s1 += g;
        s2 += g * g;
      }
      a[i * O + o] = s1;
      aSq[i * O + o] = static_cast<float>(s2);
    }
    for (i64 c = 0; c < C; c++) {
      const float x = p.x[i * C + c];
      xs[i * C + c] = x;
      xSq[i * C + c] = x * x;
    }
  }
  // NOTE: blocks of 128 rows: each block's GEMMs pack x and x² again, and small blocks run
  // far from peak ([32, 128]ᵀ·[128, 784]: 58 GFLOP/s, 128 rows 90, 256 rows 106; bench/blas/gemm-shapes.c d, BLIS skx).
  constexpr i64 kRows = 128;
  const double m = static_cast<double>(p.v * n);
  pool.run((O + kRows - 1) / kRows, [&](i64 b) {
    const i64 o0 = b * kRows, rows = std::min(kRows, O - o0);
    double* d1 = reinterpret_cast<double*>(threadScratch(0, 5 * kRows * C));
    double* d2 = d1 + kRows * C;  // the loop's second accumulator where a row is recomputed
    float* f2 = reinterpret_cast<float*>(d2 + kRows * C);
    blas.dgemm(true, false, rows, C, n, 1.0, a + o0, O, xs, C, 0.0, d1, C);
    blas.sgemm(true, false, rows, C, n, 1.0f, aSq + o0, O, xSq, C, 0.0f, f2, C);
    for (i64 r = 0; r < rows; r++) {
      const i64 o = o0 + r;
      const double* a1 = d1 + r * C;
      const float* b2 = f2 + r * C;
      float* z1 = y1 + o * C;
      float* z2 = y2 + o * C;
      if (moments)
        for (i64 j = 0; j < C; j++) yShift[o * C + j] = static_cast<float>(a1[j] / m);
      const float* shiftRow = moments ? yShift + o * C : p.shift ? p.shift + o * C : nullptr;
      // Branch-free loops over the row (they vectorise: this was a third of the kernel's time).
      int nearMean = 0;
      if (shiftRow) {
        for (i64 j = 0; j < C; j++) {
          const double s = shiftRow[j];
          const double sum2 = static_cast<double>(b2[j]) - 2.0 * s * a1[j] + m * s * s;
          nearMean |= m * s * s > 4.0 * sum2;
          z1[j] = static_cast<float>(a1[j] - m * s);
          z2[j] = static_cast<float>(sum2);
        }
      } else {
        for (i64 j = 0; j < C; j++) {
          z1[j] = static_cast<float>(a1[j]);
          z2[j] = b2[j];
        }
      }
      if (nearMean) outerProductCentredRow(p, o, shiftRow, z1, z2, d1 + r * C, d2 + r * C);  // row r of d1 is spent: reuse it
    }
  });
  return true;
}

/**
 * Centred squares where each per-sample Jacobian is an outer product: one output position and a
 * kernel of one (a Linear layer run as a convolution), groups 1. J_vn = V_vn x_nᵀ, so its rows are
 * made directly and summed over (n, v) in order into double accumulators that stay in cache: no
 * GEMM with k = 1, no J in memory, no per-group partials. Thread-count independent. The fallback
 * of outerProductCentredDgemm where the BLAS has no dgemm.
 */
void outerProductCentred(ThreadPool& pool, const ConvParams& p) {
  const i64 O = p.O, C = p.C;
  pool.parallelFor(O, std::max<i64>(1, kGrain / (C * p.n * p.v)), [&](i64 o0, i64 o1) {
    double* s1 = reinterpret_cast<double*>(threadScratch(0, 4 * C));
    for (i64 o = o0; o < o1; o++) outerProductCentredRow(p, o, p.shift ? p.shift + o * C : nullptr, p.y + o * C, p.y + O * C + o * C, s1, s1 + C);
  });
}

/**
 * out [width] = Σ over the samples of `addChunk(acc, n0, r, U)`, which adds chunk [n0, n0 + r)
 * (unfolded into U) into acc: chunks of chunkSamples in groups (groupsFor), each group's partial
 * summed in order on one thread, then the groups added in order — independent of the threads.
 */
template <class AddChunk>
void sumOverChunks(ThreadPool& pool, const ConvParams& p, const ConvDims& d, i64 width, float* out, AddChunk addChunk) {
  const i64 R = chunkSamples(d, p.n);
  const i64 chunks = (p.n + R - 1) / R;
  const Groups gr = groupsFor(chunks, width);
  float* partials = groupPartials<float>(gr.count, width);
  pool.run(gr.count, [&](i64 grp) {
    for (i64 c = grp * gr.chunksPerGroup; c < std::min(chunks, (grp + 1) * gr.chunksPerGroup); c++) {
      const i64 n0 = c * R, r = std::min(R, p.n - n0);
      float* U = threadScratch(0, d.CK * r * d.P);
      unfoldChunk(p, d, n0, r, U);
      addChunk(partials + grp * width, n0, r, U);
    }
  });
  sumGroups(pool, partials, gr.count, width, out);
}

/** Unfolds one sample (the ckp layout [C·K, P]) for the per-sample kernels. */
void unfoldSample(const ConvParams& p, const ConvDims& d, i64 n, float* U) { unfoldChunk(p, d, n, 1, U); }

}  // namespace

void CpuDevice::convForward(const ConvParams& p) {
  if (byLibrary([&](OnednnConv& lib) { return lib.forward(p, pool_); })) return;
  const ConvDims d = convDims(p);
  const i64 R = chunkSamples(d, p.n);
  const i64 chunks = (p.n + R - 1) / R;
  pool_.run(chunks, [&](i64 c) {
    const i64 n0 = c * R, r = std::min(R, p.n - n0);
    float* U = threadScratch(0, d.CK * r * d.P);
    float* Y = threadScratch(1, p.O * r * d.P);
    unfoldChunk(p, d, n0, r, U);
    for (i64 g = 0; g < p.G; g++) {
      blas_->sgemm(false, false, d.og, r * d.P, d.cgK, 1.0f, p.W + g * d.og * d.cgK, d.cgK, U + g * d.cgK * r * d.P, r * d.P, 0.0f,
                   Y + g * d.og * r * d.P, r * d.P);
    }
    // Y [O, r·P] → y [r, O, P], plus the bias.
    for (i64 s = 0; s < r; s++) {
      float* y = p.y + (n0 + s) * p.O * d.P;
      for (i64 o = 0; o < p.O; o++) {
        const float* src = Y + o * r * d.P + s * d.P;
        const float b = p.bias ? p.bias[o] : 0.0f;
        for (i64 q = 0; q < d.P; q++) y[o * d.P + q] = src[q] + b;
      }
    }
  });
}

void CpuDevice::convInputJacT(const ConvParams& p) {
  if (byLibrary([&](OnednnConv& lib) { return lib.inputJacT(p, pool_); })) return;
  const ConvDims d = convDims(p);
  const i64 R = chunkSamples(d, p.n);
  const i64 chunks = (p.n + R - 1) / R;
  pool_.run(chunks, [&](i64 c) {
    const i64 m0 = c * R, r = std::min(R, p.n - m0);
    float* Vc = threadScratch(0, p.O * r * d.P);
    float* cols = threadScratch(1, d.CK * r * d.P);
    gatherRows(p.V, d, p.O, m0, r, Vc);
    for (i64 g = 0; g < p.G; g++) {
      blas_->sgemm(true, false, d.cgK, r * d.P, d.og, 1.0f, p.W + g * d.og * d.cgK, d.cgK, Vc + g * d.og * r * d.P, r * d.P, 0.0f,
                   cols + g * d.cgK * r * d.P, r * d.P);
    }
    foldChunk(p, d, cols, m0, r);
  });
}

/**
 * Σ over samples of V_n U_nᵀ, computed transposed (U_n V_nᵀ: [C·K, O] per group, the unfolded
 * columns as the GEMM's left operand) and transposed once at the end: BLIS packs a transposed
 * right operand slowly, and [64, 800]·[800, 588]ᵀ ran at 105 GFLOP/s where [800, 588]·[64, 588]ᵀ
 * runs at 145 (2c2d's second convolution, bench/blas/gemm-shapes.c, one thread). Each element is the same dot product.
 */
void CpuDevice::convWeightGrad(const ConvParams& p) {
  if (byLibrary([&](OnednnConv& lib) { return lib.weightGrad(p, pool_); })) return;
  const ConvDims d = convDims(p);
  float* sums = threadScratch(5, p.v * d.theta);  // [v, G, C·K/G, O/G]; slots 0–2 are taken
  sumOverChunks(pool_, p, d, p.v * d.theta, sums, [&](float* acc, i64 n0, i64 r, const float* U) {
    float* Vc = threadScratch(1, p.O * r * d.P);
    for (i64 v = 0; v < p.v; v++) {
      gatherRows(p.V + v * p.n * p.O * d.P, d, p.O, n0, r, Vc);
      for (i64 g = 0; g < p.G; g++) {
        blas_->sgemm(false, true, d.cgK, d.og, r * d.P, 1.0f, U + g * d.cgK * r * d.P, r * d.P, Vc + g * d.og * r * d.P, r * d.P, 1.0f,
                     acc + v * d.theta + g * d.og * d.cgK, d.og);
      }
    }
  });
  pool_.parallelFor(p.v * p.G * d.og, std::max<i64>(1, kGrain / d.cgK), [&](i64 a, i64 b) {
    for (i64 row = a; row < b; row++) {
      const i64 o = row % d.og, vg = row / d.og;  // vg = v·G + g
      const float* src = sums + vg * d.og * d.cgK + o;
      float* dst = p.y + row * d.cgK;
      for (i64 c = 0; c < d.cgK; c++) dst[c] = src[c * d.og];
    }
  });
}

void CpuDevice::convWeightJac(const ConvParams& p) {
  const ConvDims d = convDims(p);
  pool_.run(p.n, [&](i64 n) {
    float* U = threadScratch(0, d.CK * d.P);
    unfoldSample(p, d, n, U);
    for (i64 v = 0; v < p.v; v++) {
      const float* V = p.V + (v * p.n + n) * p.O * d.P;
      float* y = p.y + (v * p.n + n) * d.theta;
      for (i64 g = 0; g < p.G; g++) {
        blas_->sgemm(false, true, d.og, d.cgK, d.P, 1.0f, V + g * d.og * d.P, d.P, U + g * d.cgK * d.P, d.P, 0.0f,
                     y + g * d.og * d.cgK, d.cgK);
      }
    }
  });
}

/**
 * fn(v, J_v) for v = 0 … V−1 in order, J_v [O, C·K / G] the weight Jacobian of sample n (unfolded
 * in U) for vector v. Ungrouped, the vectors are stacked a block at a time into one GEMM
 * ([b·O, P]·[P, C·K]): 2c2d's second convolution under DiagGGNExact (V = 10) runs M = 640 instead
 * of ten products of M = 64 (bench/blas/gemm-shapes.c, BLIS skx: 209 vs 136 GFLOP/s; 84 vs 41 for its first).
 */
template <class Fn>
void forEachWeightJacobian(const Blas& blas, const ConvParams& p, const ConvDims& d, i64 n, const float* U, Fn fn) {
  const i64 stack = p.G == 1 ? std::clamp<i64>((i64(4) << 20) / std::max<i64>(1, d.theta), 1, p.v) : 1;
  float* J = threadScratch(1, stack * d.theta);
  float* Vs = stack > 1 ? threadScratch(4, stack * p.O * d.P) : nullptr;  // slots 2 and 3: group partials, dgemm operands
  for (i64 v0 = 0; v0 < p.v; v0 += stack) {
    const i64 b = std::min(stack, p.v - v0);
    if (stack > 1) {
      // V is [v, n, O, P]: this sample's rows of each vector, side by side.
      for (i64 v = v0; v < v0 + b; v++) std::copy_n(p.V + (v * p.n + n) * p.O * d.P, p.O * d.P, Vs + (v - v0) * p.O * d.P);
      blas.sgemm(false, true, b * p.O, d.cgK, d.P, 1.0f, Vs, d.P, U, d.P, 0.0f, J, d.cgK);
    } else {
      const float* V = p.V + (v0 * p.n + n) * p.O * d.P;
      for (i64 g = 0; g < p.G; g++) {
        blas.sgemm(false, true, d.og, d.cgK, d.P, 1.0f, V + g * d.og * d.P, d.P, U + g * d.cgK * d.P, d.P, 0.0f,
                   J + g * d.og * d.cgK, d.cgK);
      }
    }
    for (i64 v = v0; v < v0 + b; v++) fn(v, J + (v - v0) * d.theta);
  }
}

void CpuDevice::convWeightSquares(const ConvParams& p, SquaresMode mode) {
  const ConvDims d = convDims(p);
  // One sample's squares for every v: into `acc` (Sum: the group's partial; Rows: the sample's
  // row) or, for Norms, returned as a total.
  auto sample = [&](i64 n, float* acc) -> double {
    float* U = threadScratch(0, d.CK * d.P);
    unfoldSample(p, d, n, U);
    double total = 0.0;
    forEachWeightJacobian(*blas_, p, d, n, U, [&](i64, const float* J) {
      for (i64 j = 0; j < d.theta; j++) total += squareAccumulate(acc, J, p.shift, j);
    });
    return total;
  };
  const bool outerProducts = d.P == 1 && d.K == 1 && d.S == 1 && p.G == 1;
  if (mode == SquaresMode::Moments) {
    if (outerProducts && outerProductCentredDgemm(pool_, *blas_, p, mode)) return;
    // By parts: the mean of J (its sum from the weight gradient), then squares centred on it.
    const i64 theta = d.theta;
    float* sums = threadScratch(6, p.v * theta);  // slot 5 is convWeightGrad's own
    ConvParams grad = p;
    grad.y = sums;
    convWeightGrad(grad);
    for (i64 j = 0; j < theta; j++) p.y[j] = momentsShift(sums, p.v, theta, p.v * p.n, j);
    ConvParams centred = p;
    centred.shift = p.y;
    centred.y = p.y + theta;
    convWeightSquares(centred, SquaresMode::Centred);
    return;
  }
  if (mode == SquaresMode::Centred && outerProducts) {
    if (!outerProductCentredDgemm(pool_, *blas_, p, mode)) outerProductCentred(pool_, p);
    return;
  }
  if (mode == SquaresMode::Centred) {
    // Double partials per group of samples, added in order: y [2, θ] = Σ (J − s), Σ (J − s)².
    const Groups gr = groupsFor(p.n, 4 * d.theta);
    double* partials = groupPartials<double>(gr.count, 2 * d.theta);
    pool_.run(gr.count, [&](i64 grp) {
      double* s1 = partials + grp * 2 * d.theta;
      double* s2 = s1 + d.theta;
      float* U = threadScratch(0, d.CK * d.P);
      for (i64 n = grp * gr.chunksPerGroup; n < std::min(p.n, (grp + 1) * gr.chunksPerGroup); n++) {
        unfoldSample(p, d, n, U);
        forEachWeightJacobian(*blas_, p, d, n, U, [&](i64, const float* J) {
          for (i64 j = 0; j < d.theta; j++) centredAccumulate(s1, s2, J, p.shift, j);
        });
      }
    });
    pool_.parallelFor(2 * d.theta, kGrain, [&](i64 a, i64 b) {
      for (i64 j = a; j < b; j++) {
        double acc = 0.0;
        for (i64 g = 0; g < gr.count; g++) acc += partials[g * 2 * d.theta + j];
        p.y[j] = static_cast<float>(acc);
      }
    });
    return;
  }
  if (mode == SquaresMode::Sum) {
    const Groups gr = groupsFor(p.n, d.theta);
    float* partials = groupPartials<float>(gr.count, d.theta);
    pool_.run(gr.count, [&](i64 grp) {
      for (i64 n = grp * gr.chunksPerGroup; n < std::min(p.n, (grp + 1) * gr.chunksPerGroup); n++) sample(n, partials + grp * d.theta);
    });
    sumGroups(pool_, partials, gr.count, d.theta, p.y);
  } else if (mode == SquaresMode::Rows) {
    pool_.run(p.n, [&](i64 n) {
      float* row = p.y + n * d.theta;
      std::memset(row, 0, static_cast<size_t>(d.theta) * sizeof(float));
      sample(n, row);
    });
  } else {
    pool_.run(p.n, [&](i64 n) { p.y[n] = static_cast<float>(sample(n, nullptr)); });
  }
}

void CpuDevice::convInputGram(const ConvParams& p) {
  const ConvDims d = convDims(p);
  sumOverChunks(pool_, p, d, d.CK * d.CK, p.y, [&](float* acc, i64, i64 r, const float* U) {
    blas_->ssyrkUpper(false, d.CK, r * d.P, 1.0f, U, r * d.P, 1.0f, acc, d.CK);
  });
  mirrorUpper(pool_, p.y, d.CK, d.CK);
}

}  // namespace bp

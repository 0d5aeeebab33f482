// A Linear layer's per-sample weight gradients and their sum (kernels/outer.h) on the cpu: a few
// output rows o at a time, every sample's rows of that block written together while the block's
// sums are accumulated next to them.
//
// NOTE: where the sums sit decides the speed. Kept in a scratch row (L1/L2), every product element
// costs a load and a store of its sum beside its streamed store, and the mix runs at ~15 GB/s on
// this VM against ~26 GB/s for the products alone; kept in registers over all samples (a tile of 4
// rows × 64 columns, 16 of the 32 AVX-512 registers), it runs at ~22–26 GB/s: 2c2d's
// [128,1024]·[128,3136] 110 → 73 ms, the mlp's [128,256]·[128,784] 7.4 → 4.0 ms (tmp C++ harness,
// one thread). The sums are the same FMAs in sample order from 0 either way.
#include <algorithm>

#include "../kernels/outer.h"
#include "cpu_device.h"
#include "stream_store.h"

namespace bp {
namespace {

constexpr i64 kBlock = 4;  // output rows o per block

#if defined(__AVX512F__)
/**
 * Rows o0 … o0+3 of every sample over the 16·CV columns from j0, and their sums (if wanted), which
 * stay in registers across the samples. Needs the rows' addresses 64-byte aligned (I % 16 == 0).
 */
template <int CV, bool kSum, bool kStream>
void outerTile(const OuterParams& p, i64 v, i64 o0, i64 j0) {
  __m512 acc[kBlock][CV];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  for (i64 k = 0; k < p.n; k++) {
    __m512 xv[CV];
    for (int c = 0; c < CV; c++) xv[c] = _mm512_loadu_ps(p.x + k * p.I + j0 + 16 * c);
    const float* g = p.V + (v * p.n + k) * p.O + o0;
    float* rows = p.rows + ((v * p.n + k) * p.O + o0) * p.I + j0;
    for (int r = 0; r < kBlock; r++) {
      const __m512 va = _mm512_set1_ps(g[r]);
      for (int c = 0; c < CV; c++) {
        const __m512 y = _mm512_mul_ps(va, xv[c]);
        if constexpr (kStream) _mm512_stream_ps(rows + r * p.I + 16 * c, y);
        else _mm512_store_ps(rows + r * p.I + 16 * c, y);
        if constexpr (kSum) acc[r][c] = _mm512_fmadd_ps(va, xv[c], acc[r][c]);
      }
    }
  }
  if constexpr (kSum)
    for (int r = 0; r < kBlock; r++)
      for (int c = 0; c < CV; c++) _mm512_storeu_ps(p.sum + (v * p.O + o0 + r) * p.I + j0 + 16 * c, acc[r][c]);
}

template <bool kSum, bool kStream>
void outerBlockTiles(const OuterParams& p, i64 v, i64 o0) {
  i64 j = 0;
  for (; j + 64 <= p.I; j += 64) outerTile<4, kSum, kStream>(p, v, o0, j);
  for (; j < p.I; j += 16) outerTile<1, kSum, kStream>(p, v, o0, j);
}

/** Whether a block of 4 rows can run as register tiles: AVX-512 and aligned rows. */
bool tilesFit(const OuterParams& p) { return p.I % 16 == 0 && reinterpret_cast<uintptr_t>(p.rows) % 64 == 0; }
#endif

/** Rows o0 … o1−1 of every sample, row by row, with the sums in `acc` (a thread's scratch). */
void outerBlockRows(const OuterParams& p, i64 v, i64 o0, i64 o1, float* acc, bool stream) {
  if (acc) std::fill(acc, acc + (o1 - o0) * p.I, 0.0f);
  for (i64 k = 0; k < p.n; k++) {
    const float* xr = p.x + k * p.I;
    const float* g = p.V + (v * p.n + k) * p.O;
    float* rows = p.rows + ((v * p.n + k) * p.O) * p.I;
    for (i64 o = o0; o < o1; o++) scaledRow(rows + o * p.I, acc ? acc + (o - o0) * p.I : nullptr, g[o], xr, p.I, stream);
  }
  if (acc) std::copy_n(acc, (o1 - o0) * p.I, p.sum + (v * p.O + o0) * p.I);
}

}  // namespace

void CpuDevice::outerProducts(const OuterParams& p) {
  const i64 blocksPerV = (p.O + kBlock - 1) / kBlock;
  const bool stream = p.v * p.n * p.O * p.I * i64(sizeof(float)) >= kStreamBytes;
  const i64 blockWork = std::max<i64>(1, p.n * kBlock * p.I);
  pool_.parallelFor(p.v * blocksPerV, std::max<i64>(1, kGrain / blockWork), [&](i64 b0, i64 b1) {
    for (i64 b = b0; b < b1; b++) {
      const i64 v = b / blocksPerV, o0 = (b % blocksPerV) * kBlock, o1 = std::min(p.O, o0 + kBlock);
#if defined(__AVX512F__)
      if (o1 - o0 == kBlock && tilesFit(p)) {
        if (p.sum) stream ? outerBlockTiles<true, true>(p, v, o0) : outerBlockTiles<true, false>(p, v, o0);
        else stream ? outerBlockTiles<false, true>(p, v, o0) : outerBlockTiles<false, false>(p, v, o0);
        continue;
      }
#endif
      outerBlockRows(p, v, o0, o1, p.sum ? threadScratch(0, kBlock * p.I) : nullptr, stream);
    }
    if (stream) streamFence();
  });
}

}  // namespace bp

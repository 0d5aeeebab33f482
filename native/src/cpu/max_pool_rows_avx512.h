// Max pooling of one 2-D image plane by AVX-512 vectors along output rows: 16 output columns a
// vector, one masked lane per column past the row's end, every kernel tap a vector step. Rows as
// short as 3c3d's (14, 6 and 3 outputs) then cost one step per tap, where plain loops ran them
// through scalar remainders and the separable body (max_pool_2d.h) spends its time copying the
// plane into stride phases. Padding never wins: its lanes are masked out of the tap.
//
// Results equal kernels/windows.h's map body bit for bit (taps in row-major window order, the
// first maximum wins, NaN wins and stays: replacesMax), as test/native's conformance cases check.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "../kernels/params.h"

namespace bp {

/** Row `row`'s elements at columns iw (one per lane, masked lanes untouched): strided loads for strides 1 and 2. */
inline __m512 maxPoolTapLoad(const float* row, __m512i iw, __mmask16 valid, i64 first, i64 stride, i64 W) {
  const __m512 padding = _mm512_set1_ps(-INFINITY);
  if (stride == 1) return _mm512_mask_loadu_ps(padding, valid, row + first);
  if (stride == 2) {
    // Columns first, first + 2, …: two masked loads of 16 consecutive columns, then the even ones.
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i col = _mm512_add_epi32(lane, _mm512_set1_epi32(static_cast<int>(first)));
    const __m512i col2 = _mm512_add_epi32(col, _mm512_set1_epi32(16));
    const __m512i zero = _mm512_setzero_si512(), width = _mm512_set1_epi32(static_cast<int>(W));
    const __mmask16 lo = _mm512_cmpge_epi32_mask(col, zero) & _mm512_cmplt_epi32_mask(col, width);
    const __mmask16 hi = _mm512_cmpge_epi32_mask(col2, zero) & _mm512_cmplt_epi32_mask(col2, width);
    const __m512 a = _mm512_mask_loadu_ps(padding, lo, row + first);
    const __m512 b = _mm512_mask_loadu_ps(padding, hi, row + first + 16);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, even, b);
  }
  return _mm512_mask_i32gather_ps(padding, valid, iw, row, 4);
}

/**
 * y [OH·OW] and arg [OH·OW] (flat input position, -1 and y = −∞ for a window that is all padding)
 * of one plane; either may be null.
 */
inline void maxPool2dPlaneRows(const WindowParams& w, const float* plane, float* y, int32_t* arg) {
  const i64 H = w.in[0], W = w.in[1], OH = w.out[0], OW = w.out[1];
  const i64 SH = w.stride[0], SW = w.stride[1], DH = w.dilation[0], DW = w.dilation[1], PH = w.padLo[0], PW = w.padLo[1];
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i zero = _mm512_setzero_si512(), width = _mm512_set1_epi32(static_cast<int>(W));
  for (i64 oh = 0; oh < OH; oh++) {
    for (i64 ow0 = 0; ow0 < OW; ow0 += 16) {
      const __mmask16 live = static_cast<__mmask16>((1u << std::min<i64>(16, OW - ow0)) - 1u);
      __m512 best = _mm512_set1_ps(-INFINITY);
      __m512i at = _mm512_set1_epi32(-1);
      for (i64 kh = 0; kh < w.kernel[0]; kh++) {
        const i64 ih = oh * SH + kh * DH - PH;
        if (ih < 0 || ih >= H) continue;
        const float* row = plane + ih * W;
        for (i64 kw = 0; kw < w.kernel[1]; kw++) {
          const i64 first = ow0 * SW + kw * DW - PW;  // the column lane 0 reads
          const __m512i iw = _mm512_add_epi32(_mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(SW))), _mm512_set1_epi32(static_cast<int>(first)));
          const __mmask16 valid = live & _mm512_cmpge_epi32_mask(iw, zero) & _mm512_cmplt_epi32_mask(iw, width);
          const __m512 v = maxPoolTapLoad(row, iw, valid, first, SW, W);
          // replacesMax(v, best) = !(v <= best) & (best == best), or no maximum yet.
          const __mmask16 wins = _mm512_cmp_ps_mask(v, best, _CMP_NLE_UQ) & _mm512_cmp_ps_mask(best, best, _CMP_EQ_OQ);
          const __mmask16 take = valid & (wins | _mm512_cmplt_epi32_mask(at, zero));
          best = _mm512_mask_mov_ps(best, take, v);
          at = _mm512_mask_mov_epi32(at, take, _mm512_add_epi32(iw, _mm512_set1_epi32(static_cast<int>(ih * W))));
        }
      }
      if (y) _mm512_mask_storeu_ps(y + oh * OW + ow0, live, best);
      if (arg) _mm512_mask_storeu_epi32(arg + oh * OW + ow0, live, at);
    }
  }
}

}  // namespace bp
#endif

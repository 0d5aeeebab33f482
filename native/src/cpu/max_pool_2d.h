// Max pooling of one 2-D image plane on the cpu, separably and without the index map: each input
// row's maximum over the kernel's columns (per output column), then each output's maximum over
// the kernel's rows. Twice as fast as gathering through the map (tmp measurements in
// docs/decisions.md); the cuda device keeps the map-based body of kernels/windows.h, whose results
// this matches bit for bit (test/native conformance).
#pragma once

#include <cmath>

#include "../kernels/params.h"

namespace bp {

/**
 * Whether v replaces the running maximum b: strictly greater, or NaN over a number (NaN wins and
 * stays, as torch propagates it). The first maximum in row-major window order therefore wins ties.
 */
inline bool replacesMax(float v, float b) { return !(v <= b) & (b == b); }

/** One kernel column over the interior output columns; the stride as a constant lets it vectorise. */
template <int kStride>
inline void maxOverColumn(const float* __restrict in, int32_t offset, i64 lo, i64 hi, float* __restrict best,
                          int32_t* __restrict col, i64 stride = kStride) {
  const i64 st = kStride ? kStride : stride;
  for (i64 ow = lo; ow < hi; ow++) {
    const float v = in[ow * st];
    const float b = best[ow];
    const bool take = replacesMax(v, b);
    best[ow] = take ? v : b;
    col[ow] = take ? static_cast<int32_t>(ow * st) + offset : col[ow];
  }
}

/**
 * y [OH·OW] and arg [OH·OW] (flat input position, -1 and y = −∞ for a window that is all padding)
 * of one plane. `rowBest`/`rowCol` are scratch of [in rows × out cols].
 */
inline void maxPool2dPlane(const WindowParams& w, const float* plane, float* rowBest, int32_t* rowCol, float* y, int32_t* arg) {
  const i64 H = w.in[0], W = w.in[1], OH = w.out[0], OW = w.out[1];
  const i64 KH = w.kernel[0], KW = w.kernel[1], SH = w.stride[0], SW = w.stride[1];
  const i64 DH = w.dilation[0], DW = w.dilation[1], PH = w.padLo[0], PW = w.padLo[1];
  // Output columns whose every kernel column lies inside the row: no bounds checks there.
  const i64 lastStart = W - 1 + PW - (KW - 1) * DW;
  const i64 hi = std::min(OW, lastStart >= 0 ? lastStart / SW + 1 : 0);
  const i64 lo = std::min((PW + SW - 1) / SW, hi);
  for (i64 ih = 0; ih < H; ih++) {
    const float* row = plane + ih * W;
    float* best = rowBest + ih * OW;
    int32_t* col = rowCol + ih * OW;
    auto borderColumn = [&](i64 ow) {
      float b = 0.0f;
      int32_t c = -1;
      for (i64 kw = 0; kw < KW; kw++) {
        const i64 iw = ow * SW - PW + kw * DW;
        if (iw < 0 || iw >= W) continue;
        if (c < 0 || replacesMax(row[iw], b)) {
          b = row[iw];
          c = static_cast<int32_t>(iw);
        }
      }
      best[ow] = b;
      col[ow] = c;
    };
    for (i64 ow = 0; ow < lo; ow++) borderColumn(ow);
    for (i64 ow = hi; ow < OW; ow++) borderColumn(ow);
    const float* start = row - PW;
    for (i64 ow = lo; ow < hi; ow++) {
      best[ow] = start[ow * SW];
      col[ow] = static_cast<int32_t>(ow * SW - PW);
    }
    for (i64 kw = 1; kw < KW; kw++) {
      const float* in = start + kw * DW;
      const int32_t offset = static_cast<int32_t>(kw * DW - PW);
      if (SW == 1) maxOverColumn<1>(in, offset, lo, hi, best, col);
      else if (SW == 2) maxOverColumn<2>(in, offset, lo, hi, best, col);
      else maxOverColumn<0>(in, offset, lo, hi, best, col, SW);
    }
  }
  for (i64 oh = 0; oh < OH; oh++) {
    float* yo = y + oh * OW;
    int32_t* ao = arg + oh * OW;
    for (i64 ow = 0; ow < OW; ow++) {
      yo[ow] = -INFINITY;
      ao[ow] = -1;
    }
    for (i64 kh = 0; kh < KH; kh++) {
      const i64 ih = oh * SH - PH + kh * DH;
      if (ih < 0 || ih >= H) continue;
      const float* best = rowBest + ih * OW;
      const int32_t* col = rowCol + ih * OW;
      const int32_t rowStart = static_cast<int32_t>(ih * W);
      for (i64 ow = 0; ow < OW; ow++) {
        const float v = best[ow];
        const float b = yo[ow];
        const bool take = (col[ow] >= 0) & ((ao[ow] < 0) | replacesMax(v, b));
        yo[ow] = take ? v : b;
        ao[ow] = take ? rowStart + col[ow] : ao[ow];
      }
    }
  }
}

}  // namespace bp

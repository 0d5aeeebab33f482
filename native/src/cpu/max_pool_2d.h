// Max pooling of one 2-D image plane on the cpu, separably and without the index map: each input
// row's maximum over the kernel's columns (per output column), then each output's maximum over
// the kernel's rows. Each pass runs as a few long loops the compiler vectorises: the plane is
// padded and split by stride phase first, so that one kernel tap is a contiguous shift over the
// whole plane (columns past the output width are scratch, computed and dropped). Looping per row
// instead ran the short rows of 3c3d's planes (14 outputs) through scalar remainders: 28 → 12 ms
// for its first pooling (tmp C++ harness, one thread, bit-identical results). The cuda device
// keeps the map-based body of kernels/windows.h, whose results this matches bit for bit.
// NOTE: builds with AVX-512 run max_pool_rows_avx512.h instead (3–6× faster again); this body
// serves the others, so a machine without AVX-512 is where test/native's conformance cases run it.
#pragma once

#include <algorithm>
#include <cmath>

#include "../kernels/params.h"

namespace bp {

/**
 * Whether v replaces the running maximum b: strictly greater, or NaN over a number (NaN wins and
 * stays, as torch propagates it). The first maximum in row-major window order therefore wins ties.
 */
inline bool replacesMax(float v, float b) { return !(v <= b) & (b == b); }

/**
 * One kernel tap over n flattened positions: candidate (v, c) against the running (b, at); c < 0
 * marks padding, which never wins.
 */
inline void maxPoolTap(const float* __restrict v, const int32_t* __restrict c, float* __restrict b, int32_t* __restrict at, i64 n) {
  for (i64 i = 0; i < n; i++) {
    const bool take = (c[i] >= 0) & ((at[i] < 0) | replacesMax(v[i], b[i]));
    b[i] = take ? v[i] : b[i];
    at[i] = take ? c[i] : at[i];
  }
}

/** How a plane is laid out for the two passes (all counts in elements). */
struct MaxPool2dLayout {
  i64 Q;         // a padded row's width per column phase (≥ every output column's last tap)
  i64 Q2;        // a column's height per row phase, likewise
  i64 phaseLen;  // one column phase: in[0] rows of Q, plus one row of slack for the shifted taps
  i64 rowPhaseLen;

  explicit MaxPool2dLayout(const WindowParams& w) {
    const i64 OH = w.out[0], OW = w.out[1];
    Q = ((OW - 1) * w.stride[1] + (w.kernel[1] - 1) * w.dilation[1] + w.stride[1]) / w.stride[1];
    Q2 = ((OH - 1) * w.stride[0] + (w.kernel[0] - 1) * w.dilation[0] + w.stride[0]) / w.stride[0];
    phaseLen = w.in[0] * Q + Q;
    rowPhaseLen = (Q2 + 1) * Q;
  }
  /** Scratch per plane, in floats and (as many) int32s: column phases, row maxima, row phases, outputs. */
  i64 scratch(const WindowParams& w) const { return w.stride[1] * phaseLen + w.in[0] * Q + w.stride[0] * rowPhaseLen + w.out[0] * Q; }
};

/**
 * y [OH·OW] and arg [OH·OW] (flat input position, -1 and y = −∞ for a window that is all padding)
 * of one plane; `sf` and `si` hold MaxPool2dLayout::scratch elements each.
 */
inline void maxPool2dPlane(const WindowParams& w, const float* plane, float* sf, int32_t* si, float* y, int32_t* arg) {
  const MaxPool2dLayout L(w);
  const i64 H = w.in[0], W = w.in[1], OH = w.out[0], OW = w.out[1], Q = L.Q;
  const i64 SH = w.stride[0], SW = w.stride[1], DH = w.dilation[0], DW = w.dilation[1], PH = w.padLo[0], PW = w.padLo[1];
  // Column phases: padded column q·SW + ph is input column q·SW + ph − PW (or padding); output
  // column ow's tap kw reads phase (kw·DW) mod SW at ow + (kw·DW) div SW.
  for (i64 ph = 0; ph < SW; ph++) {
    float* v = sf + ph * L.phaseLen;
    int32_t* c = si + ph * L.phaseLen;
    for (i64 ih = 0; ih < H; ih++) {
      for (i64 q = 0; q < Q; q++) {
        const i64 iw = q * SW + ph - PW;
        const bool inside = iw >= 0 && iw < W;
        v[ih * Q + q] = inside ? plane[ih * W + iw] : -INFINITY;
        c[ih * Q + q] = inside ? static_cast<int32_t>(ih * W + iw) : -1;
      }
    }
    std::fill(v + H * Q, v + L.phaseLen, -INFINITY);
    std::fill(c + H * Q, c + L.phaseLen, -1);
  }
  // Row pass: each input row's maximum over the kernel's columns.
  float* rb = sf + SW * L.phaseLen;
  int32_t* rc = si + SW * L.phaseLen;
  std::fill(rb, rb + H * Q, -INFINITY);
  std::fill(rc, rc + H * Q, -1);
  for (i64 kw = 0; kw < w.kernel[1]; kw++) {
    const i64 ph = (kw * DW) % SW, shift = (kw * DW) / SW;
    maxPoolTap(sf + ph * L.phaseLen + shift, si + ph * L.phaseLen + shift, rb, rc, H * Q);
  }
  // Row phases of the row maxima, the same way: padded row q2·SH + ph is input row q2·SH + ph − PH.
  float* vv = rb + H * Q;
  int32_t* vc = rc + H * Q;
  for (i64 ph = 0; ph < SH; ph++) {
    for (i64 q2 = 0; q2 <= L.Q2; q2++) {
      const i64 ih = q2 * SH + ph - PH;
      float* dv = vv + ph * L.rowPhaseLen + q2 * Q;
      int32_t* dc = vc + ph * L.rowPhaseLen + q2 * Q;
      if (q2 < L.Q2 && ih >= 0 && ih < H) {
        std::copy(rb + ih * Q, rb + (ih + 1) * Q, dv);
        std::copy(rc + ih * Q, rc + (ih + 1) * Q, dc);
      } else {
        std::fill(dv, dv + Q, -INFINITY);
        std::fill(dc, dc + Q, -1);
      }
    }
  }
  // Column pass: each output's maximum over the kernel's rows, in row-major window order.
  float* ob = vv + SH * L.rowPhaseLen;
  int32_t* oc = vc + SH * L.rowPhaseLen;
  std::fill(ob, ob + OH * Q, -INFINITY);
  std::fill(oc, oc + OH * Q, -1);
  for (i64 kh = 0; kh < w.kernel[0]; kh++) {
    const i64 ph = (kh * DH) % SH, shift = (kh * DH) / SH;
    maxPoolTap(vv + ph * L.rowPhaseLen + shift * Q, vc + ph * L.rowPhaseLen + shift * Q, ob, oc, OH * Q);
  }
  for (i64 oh = 0; oh < OH; oh++) {
    std::copy(ob + oh * Q, ob + oh * Q + OW, y + oh * OW);
    std::copy(oc + oh * Q, oc + oh * Q + OW, arg + oh * OW);
  }
}

}  // namespace bp
